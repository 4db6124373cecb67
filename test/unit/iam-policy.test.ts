import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runInProcess, type InProcessResult } from '../support/in-process-cli.js';
import { EXIT_CODES } from '../../src/errors.js';
import { NETWORK_TEMPLATE_GRANTS, SDK_CALLS, type PolicyContext, type SdkCall } from '../../src/iam/actions.js';
import { policyContextFrom } from '../../src/iam/context.js';
import {
  buildPolicy,
  compactStatements,
  INLINE_ROLE_POLICY_MAX_CHARS,
  layOutPolicy,
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_MAX_CHARS,
  policySize,
  splitPolicy,
  type PolicyDocument,
  type PolicyStatement,
} from '../../src/iam/policy.js';
import { STACK_TAG_KEY } from '../../src/steps/shared/tags.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Use {
  key: string;
  file: string;
}

/**
 * Every AWS SDK call in a source text: `new <Name>Command(` and SDK waiters and paginators
 * (`waitUntil*`, `waitFor*`, `paginate*`) called, each resolved through the file's imports to
 * its client package. A command whose import cannot be resolved is reported too, so that a
 * re-export cannot hide one.
 */
export function sdkCallsIn(text: string): { calls: string[]; unresolved: string[] } {
  const imports = new Map<string, string>();
  const importPatterns = [
    /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g,
    /\{([^}]*)\}\s*=\s*await\s+import\(\s*'@aws-sdk\/client-([a-z0-9-]+)'\s*\)/g,
  ];
  for (const pattern of importPatterns) {
    for (const match of text.matchAll(pattern)) {
      for (const raw of match[1]!.split(',')) {
        const [exported, local] = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+|\s*:\s*/);
        if (exported) imports.set((local ?? exported).trim(), `${match[2]}:${exported.trim()}`);
      }
    }
  }
  const calls = new Set<string>();
  const unresolved = new Set<string>();
  for (const match of text.matchAll(/new\s+([A-Z][A-Za-z0-9_]*)\s*\(/g)) {
    const resolved = imports.get(match[1]!);
    if (resolved?.endsWith('Command')) calls.add(resolved);
    else if (!resolved && /.Command$/.test(match[1]!)) unresolved.add(match[1]!);
  }
  for (const [local, resolved] of imports) {
    const exported = resolved.split(':')[1]!;
    if (/^(waitUntil|waitFor|paginate)/.test(exported) && new RegExp(`\\b${local}\\s*\\(`).test(text)) calls.add(resolved);
  }
  return { calls: [...calls], unresolved: [...unresolved] };
}

function usesInSrc(): { uses: Use[]; unresolved: Use[] } {
  const uses: Use[] = [];
  const unresolved: Use[] = [];
  for (const path of sourceFiles(SRC)) {
    const file = relative(ROOT, path);
    const found = sdkCallsIn(readFileSync(path, 'utf8'));
    uses.push(...found.calls.map((key) => ({ key, file })));
    unresolved.push(...found.unresolved.map((key) => ({ key, file })));
  }
  return { uses, unresolved };
}

/** What the table lacks, and what it lists that no source file calls (pending entries aside). */
export function compareWithTable(uses: readonly Use[], table: readonly SdkCall[]): { missing: Use[]; unused: string[]; pendingNowUsed: string[] } {
  const listed = new Map(table.map((call) => [`${call.client}:${call.name}`, call]));
  const used = new Set(uses.map((use) => use.key));
  return {
    missing: uses.filter((use) => !listed.has(use.key)),
    unused: [...listed].filter(([key, call]) => !used.has(key) && !call.pending).map(([key]) => key),
    pendingNowUsed: [...listed].filter(([key, call]) => used.has(key) && call.pending).map(([key]) => key),
  };
}

const CONTEXT: PolicyContext = policyContextFrom({
  values: { region: 'eu-west-1', cluster: 'ecsauth', domain: 'www.example.com' },
  accountId: '123456789012',
});

describe('the IAM action table covers every AWS call in src/', () => {
  const { uses, unresolved } = usesInSrc();

  it('finds the calls it must (the scanner works)', () => {
    const keys = uses.map((use) => use.key);
    expect(keys).toContain('ec2:RunInstancesCommand');
    expect(keys).toContain('ec2:waitUntilInstanceRunning');
    expect(keys).toContain('sts:GetCallerIdentityCommand');
    expect(sdkCallsIn(`import { paginateListUsers, ListUsersCommand as L } from '@aws-sdk/client-cognito-identity-provider';\nnew L({});\nfor await (const page of paginateListUsers({ client }, {})) {}`).calls.sort()).toEqual([
      'cognito-identity-provider:ListUsersCommand',
      'cognito-identity-provider:paginateListUsers',
    ]);
    expect(sdkCallsIn(`import { FooCommand } from './elsewhere.js';\nnew FooCommand({});`).unresolved).toEqual(['FooCommand']);
  });

  it('every SDK command, waiter and paginator used in src/ is in src/iam/actions.ts', () => {
    const { missing } = compareWithTable(uses, SDK_CALLS);
    expect(missing.map((use) => `${use.key} (${use.file})`), 'add these to SDK_CALLS in src/iam/actions.ts, with their IAM actions and scope').toEqual([]);
    expect(unresolved.map((use) => `${use.key} (${use.file})`), 'import SDK commands straight from @aws-sdk/client-* so the scan can see them').toEqual([]);
  });

  it('every table entry is still used in src/ (entries marked pending aside)', () => {
    const { unused, pendingNowUsed } = compareWithTable(uses, SDK_CALLS);
    expect(unused, 'remove these from SDK_CALLS, or mark them pending').toEqual([]);
    // Informational: entries listed ahead of the reconcile rewrite that are now called.
    if (pendingNowUsed.length > 0) console.info(`pending entries now used (drop their pending mark): ${pendingNowUsed.join(', ')}`);
  });

  it('the comparison fails for a table missing a command, and for a stale entry', () => {
    const table = SDK_CALLS.filter((call) => call.name !== 'RunInstancesCommand');
    expect(compareWithTable(uses, table).missing.map((use) => use.key)).toContain('ec2:RunInstancesCommand');
    const stale: SdkCall = { client: 'ec2', name: 'RebootInstancesCommand', grants: [] };
    expect(compareWithTable(uses, [...SDK_CALLS, stale]).unused).toEqual(['ec2:RebootInstancesCommand']);
  });

  it('every table entry names real IAM actions; only sts:GetCallerIdentity needs none', () => {
    for (const call of SDK_CALLS) {
      if (call.client === 'sts') continue;
      expect(call.grants.length, `${call.client}:${call.name}`).toBeGreaterThan(0);
      for (const grant of call.grants) {
        expect(grant.action, call.name).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
        expect(grant.why.length, grant.action).toBeGreaterThan(10);
      }
    }
  });

  it('the network template grants cover every resource type in templates/network.yaml, and no other', () => {
    const template = readFileSync(join(ROOT, 'templates', 'network.yaml'), 'utf8');
    const types = [...new Set([...template.matchAll(/Type:\s*(AWS::[A-Za-z0-9:<>]+)/g)].map((match) => match[1]!))].sort();
    expect(Object.keys(NETWORK_TEMPLATE_GRANTS).sort()).toEqual(types);
  });
});

describe('the generated policy', () => {
  const built = buildPolicy(CONTEXT);
  const statements = built.document.Statement;
  const withAction = (action: string): PolicyStatement[] => statements.filter((statement) => statement.Action.includes(action));

  it('holds every action of the table, each once per scope, in valid statements', () => {
    // S3 grants only with a state in S3 (below).
    const expected = new Set(SDK_CALLS.filter((call) => !call.doctorOnly).flatMap((call) => call.grants.filter((grant) => grant.resources(CONTEXT).length > 0).map((grant) => grant.action)));
    expect(new Set(built.actions)).toEqual(expected);
    expect(new Set(statements.map((statement) => statement.Sid)).size).toBe(statements.length);
    for (const statement of statements) {
      expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      // AWS managed policies are in account "aws" (arn:aws:iam::aws:policy/...).
      for (const resource of resources) expect(resource).toMatch(/^(\*|arn:aws:[a-z0-9-]+:(eu-west-1)?:(123456789012|aws)?:.+)$/);
    }
  });

  it('counts its size as IAM does, without whitespace', () => {
    expect(policySize(built.document)).toBe(JSON.stringify(built.document).length);
    expect(policySize(JSON.parse(JSON.stringify(built.document, null, 2)) as PolicyDocument)).toBe(policySize(built.document));
  });

  it('scopes changes to what the stack tagged, and creation to requests that tag', () => {
    const owned = withAction('elasticloadbalancing:DeleteLoadBalancer');
    expect(owned).toHaveLength(1);
    expect(owned[0]!.Condition).toEqual({ StringEquals: { [`aws:ResourceTag/${STACK_TAG_KEY}`]: 'ecsauth' } });
    for (const action of ['ec2:TerminateInstances', 'ecs:DeleteService', 'cognito-idp:DeleteUserPool', 'acm:DeleteCertificate', 'cloudformation:DeleteStack']) {
      expect(withAction(action).map((statement) => statement.Sid), action).toEqual([owned[0]!.Sid]);
    }
    const create = withAction('elasticloadbalancing:CreateLoadBalancer');
    expect(create[0]!.Condition).toEqual({ StringEquals: { [`aws:RequestTag/${STACK_TAG_KEY}`]: 'ecsauth' } });
    expect(create[0]!.Resource).toContain('arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ecsauth/*');
  });

  it('lets tagging happen only inside the create calls', () => {
    const [addTags] = withAction('elasticloadbalancing:AddTags');
    expect(addTags!.Condition!.StringEquals).toMatchObject({ 'elasticloadbalancing:CreateAction': ['CreateListener', 'CreateLoadBalancer', 'CreateRule', 'CreateTargetGroup'] });
    const [createTags] = withAction('ec2:CreateTags').filter((statement) => statement.Condition?.StringEquals);
    expect(createTags!.Condition!.StringEquals!['ec2:CreateAction']).toContain('RunInstances');
  });

  it('gives Resource "*" only to actions without resource-level permissions, and says so', () => {
    const any = statements.filter((statement) => statement.Resource === '*' && !statement.Condition);
    expect(any).toHaveLength(1);
    expect(any[0]!.Action).toEqual(expect.arrayContaining(['ec2:DescribeInstances', 'acm:RequestCertificate', 'cognito-idp:CreateUserPool', 'elasticloadbalancing:DescribeLoadBalancers']));
    expect(any[0]!.Action).not.toContain('ec2:RunInstances');
    const note = built.notes.find((one) => one.sid === any[0]!.Sid)!;
    expect(note.why.join(' ')).toContain('no resource-level permissions');
  });

  it('lets ecs:ListTasks list only the stack\'s cluster: Resource "*" is what IAM checks without a container instance, so ecs:cluster scopes it', () => {
    const [listTasks] = withAction('ecs:ListTasks');
    expect(listTasks).toMatchObject({ Action: ['ecs:ListTasks'], Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/ecsauth' } } });
    expect(withAction('ecs:DescribeTasks')[0]!.Resource).toContain('arn:aws:ecs:eu-west-1:123456789012:task/ecsauth/*');
    expect(withAction('logs:GetLogEvents')[0]!.Resource).toContain('arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth:*');
  });

  it('limits DNS changes to CNAMEs of the domain and its validation names', () => {
    const [records] = withAction('route53:ChangeResourceRecordSets');
    expect(records!.Condition).toEqual({
      'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['www.example.com', '_*.www.example.com'] },
      'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'] },
    });
  });

  it('passes the instance role to EC2 only, and makes only the two service-linked roles', () => {
    const [passRole] = withAction('iam:PassRole');
    expect(passRole!.Resource).toBe('arn:aws:iam::123456789012:role/ecsInstanceRole');
    expect(passRole!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    expect(withAction('iam:CreateServiceLinkedRole').map((statement) => statement.Condition!.StringEquals!['iam:AWSServiceName']).sort()).toEqual(['ecs.amazonaws.com', 'elasticloadbalancing.amazonaws.com']);
  });

  it('allows the network template only through CloudFormation', () => {
    const [network] = withAction('ec2:CreateNatGateway');
    expect(network!.Condition).toEqual({ 'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] } });
  });

  it('uses any region and account when none is given, in the right partition', () => {
    const anywhere = buildPolicy(policyContextFrom({ values: {} }));
    expect(JSON.stringify(anywhere.document)).toContain('arn:aws:ecs:*:*:cluster/ecsauth');
    const gov = buildPolicy(policyContextFrom({ values: { region: 'us-gov-west-1' } }));
    expect(JSON.stringify(gov.document)).toContain('arn:aws-us-gov:ecs:us-gov-west-1:*:cluster/ecsauth');
  });

  it('allows S3 only for a state in S3: its object and lock for reads and conditional writes, and listing its bucket', () => {
    expect(built.actions.filter((action) => action.startsWith('s3:'))).toEqual([]);
    const shared = buildPolicy(policyContextFrom({ values: { region: 'eu-west-1', cluster: 'ecsauth', stateFile: 's3://team-state/authecs/ecsauth.json' }, accountId: '123456789012' }));
    const objects = ['arn:aws:s3:::team-state/authecs/ecsauth.json', 'arn:aws:s3:::team-state/authecs/ecsauth.json.lock'];
    const statementsOf = (action: string) => shared.document.Statement.filter((statement) => statement.Action.includes(action));
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']) {
      expect(statementsOf(action), action).toHaveLength(1);
      expect([statementsOf(action)[0]!.Resource].flat(), action).toEqual(expect.arrayContaining(objects));
      expect([statementsOf(action)[0]!.Resource].flat().filter((resource) => resource.startsWith('arn:aws:s3:')).sort(), action).toEqual(action === 's3:GetObject' ? ['arn:aws:s3:::team-state', ...objects] : objects);
    }
    // Joined with the other reads: each action applies only to its own resource type (ListBucket: the bucket).
    expect([statementsOf('s3:ListBucket')[0]!.Resource].flat().filter((resource) => resource.startsWith('arn:aws:s3:') && !resource.includes('/'))).toEqual(['arn:aws:s3:::team-state']);
    expect(() => policyContextFrom({ values: { stateFile: 's3://No_Such/bucket.json' } })).toThrow(/not an S3 object URL/);
  });

  it('adds what doctor reads only when asked', () => {
    expect(built.actions).not.toContain('iam:SimulatePrincipalPolicy');
    expect(buildPolicy(CONTEXT, { includeDoctor: true }).actions).toContain('iam:SimulatePrincipalPolicy');
  });
});

/** Every (action, resource, condition) a set of policies allows, leaving out pairs of one service's action and another's ARN (never requested). */
function allowed(documents: readonly PolicyDocument[]): Set<string> {
  const serviceOf = (arnOrAction: string, index: number) => arnOrAction.split(':')[index];
  const triples = new Set<string>();
  for (const statement of documents.flatMap((document) => document.Statement)) {
    for (const action of statement.Action) {
      for (const resource of [statement.Resource].flat()) {
        if (resource !== '*' && serviceOf(resource, 2) !== serviceOf(action, 0)) continue;
        triples.add(JSON.stringify([action, resource, statement.Condition ?? null]));
      }
    }
  }
  return triples;
}

describe('the managed policies (split)', () => {
  for (const includeDoctor of [false, true]) {
    const built = buildPolicy(CONTEXT, { includeDoctor });
    const { policies, notes } = splitPolicy(built, { namePrefix: 'authecs-ecsauth' });
    const label = includeDoctor ? ' (with --include-doctor)' : '';

    it(`each fits a managed policy (6,144 characters), and a role can hold them all (10)${label}`, () => {
      expect(policies.length).toBeGreaterThan(0);
      expect(policies.length).toBeLessThanOrEqual(MANAGED_POLICIES_PER_ROLE);
      for (const policy of policies) {
        expect(policy.size).toBe(policySize(policy.document));
        expect(policy.size, `${policy.name} is over IAM's managed policy size: change splitPolicy or the table`).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
      }
      expect(policies.map((policy) => policy.name)).toEqual(policies.map((_, index) => `authecs-ecsauth-${index + 1}`));
    });

    it(`allow exactly what the one policy allows${label}`, () => {
      expect(allowed(policies.map((policy) => policy.document))).toEqual(allowed([built.document]));
      const sids = policies.flatMap((policy) => policy.document.Statement.map((statement) => statement.Sid));
      expect(new Set(sids).size).toBe(sids.length);
      for (const sid of sids) expect(sid).toMatch(/^[A-Za-z0-9]+$/);
      expect(notes.map((note) => note.sid)).toEqual(sids);
      for (const note of notes) expect(note.why.length, note.sid).toBeGreaterThan(0);
    });
  }

  it('keeps each service in one document while it fits, and is the same on every run', () => {
    const built = buildPolicy(CONTEXT);
    const { policies } = splitPolicy(built, { namePrefix: 'p' });
    const serviceOf = (statement: PolicyStatement) => statement.Action[0]!.split(':')[0]!;
    for (const service of new Set(policies.flatMap((policy) => policy.services))) {
      const holding = policies.filter((policy) => policy.services.includes(service));
      if (holding.length === 1) continue;
      // Spread over several documents only when all of it would not fit in one.
      const alone = { Version: '2012-10-17' as const, Statement: holding.flatMap((policy) => policy.document.Statement.filter((statement) => serviceOf(statement) === service)) };
      expect(policySize(alone), service).toBeGreaterThan(MANAGED_POLICY_MAX_CHARS);
    }
    for (const policy of policies) expect(policy.services).toEqual([...new Set(policy.document.Statement.map(serviceOf))].sort());
    expect(splitPolicy(built, { namePrefix: 'p' })).toEqual(splitPolicy(built, { namePrefix: 'p' }));
  });

  it('cuts a service, and then a statement, that does not fit one document', () => {
    const built = buildPolicy(CONTEXT);
    for (const maxSize of [2500, 900]) {
      const { policies } = splitPolicy(built, { namePrefix: 'small', maxSize });
      for (const policy of policies) expect(policy.size, `${policy.name} at ${maxSize}`).toBeLessThanOrEqual(maxSize);
      expect(allowed(policies.map((policy) => policy.document))).toEqual(allowed([built.document]));
    }
  });

  it('joins statements with the same condition and resources, or the same condition and actions', () => {
    const statement = (Sid: string, Action: string[], Resource: string | string[]): { statement: PolicyStatement; why: string[] } => ({ statement: { Sid, Effect: 'Allow', Action, Resource }, why: [Sid] });
    const joined = compactStatements([statement('A', ['ec2:B'], 'arn:x'), statement('C', ['ec2:A'], 'arn:x'), statement('D', ['ec2:A', 'ec2:B'], 'arn:y'), statement('E', ['ec2:Z'], 'arn:z')]);
    expect(joined.map((item) => item.statement)).toEqual([
      { Sid: 'A', Effect: 'Allow', Action: ['ec2:A', 'ec2:B'], Resource: ['arn:x', 'arn:y'] },
      { Sid: 'E', Effect: 'Allow', Action: ['ec2:Z'], Resource: 'arn:z' },
    ]);
    expect(joined[0]!.why).toEqual(['A', 'C', 'D']);
  });

  it('stays one policy while it fits a role\'s inline policies, unless split is asked for', () => {
    const small = buildPolicy(CONTEXT, { calls: SDK_CALLS.filter((call) => call.client === 'acm') });
    expect(policySize(small.document)).toBeLessThanOrEqual(INLINE_ROLE_POLICY_MAX_CHARS);
    expect(layOutPolicy(small, { namePrefix: 'authecs-ecsauth' })).toMatchObject({ split: false, policies: [{ name: 'authecs-ecsauth', document: small.document }] });
    expect(layOutPolicy(small, { namePrefix: 'authecs-ecsauth', split: true })).toMatchObject({ split: true, reason: 'asked', policies: [{ name: 'authecs-ecsauth-1' }] });
    const whole = buildPolicy(CONTEXT);
    if (policySize(whole.document) > INLINE_ROLE_POLICY_MAX_CHARS) expect(layOutPolicy(whole, { namePrefix: 'x' })).toMatchObject({ split: true, reason: 'too-big-for-inline' });
  });
});

// ---- the command ----

function cli(args: string[], env: Record<string, string> = {}): Promise<InProcessResult> {
  return runInProcess(args, { cwd: ROOT, env: { HOME: ROOT, ...env } });
}

describe('authecs iam-policy', () => {
  /** The documents of human output: each `# name: ...` header followed by its JSON. */
  function documentsOf(stdout: string): { header: string; document: PolicyDocument }[] {
    return stdout
      .split(/^(?=# )/m)
      .filter(Boolean)
      .map((block) => {
        const [header, ...rest] = block.split('\n');
        return { header: header!, document: JSON.parse(rest.join('\n')) as PolicyDocument };
      });
  }

  it('--split prints managed policies, each under its name, and how to create and attach them', async () => {
    const result = await cli(['iam-policy', '--split', '--region', 'eu-west-1', '--account-id', '123456789012', '--cluster', 'demo', '--domain', 'www.example.com']);
    expect(result.code, result.stderr).toBe(0);
    const documents = documentsOf(result.stdout);
    expect(documents.length).toBeGreaterThan(1);
    documents.forEach(({ header, document }, index) => {
      expect(header).toMatch(new RegExp(`^# authecs-demo-${index + 1}: [\\d,]+ of 6,144 characters \\([a-z0-9-, ]+\\)$`));
      expect(document.Version).toBe('2012-10-17');
      expect(policySize(document)).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
      expect(result.stderr).toContain(`aws iam create-policy --policy-name authecs-demo-${index + 1} --policy-document file://authecs-demo-${index + 1}.json`);
      expect(result.stderr).toContain(`aws iam attach-role-policy --role-name <role> --policy-arn arn:aws:iam::123456789012:policy/authecs-demo-${index + 1}`);
    });
    expect(JSON.stringify(documents)).toContain('arn:aws:ecs:eu-west-1:123456789012:cluster/demo');
    expect(result.stderr).toMatch(/\d+ actions for stack demo .* in \d+ managed policies of at most 6,144 characters each/);
    expect(result.stderr).toContain('NoResourceLevelPermissionsEc2: no resource-level permissions');
  });

  it('splits by itself, and says why, when the one policy is over what a role\'s inline policies hold', async () => {
    const single = policySize(buildPolicy(policyContextFrom({ values: { region: 'eu-west-1', cluster: 'demo' }, accountId: '123456789012' })).document);
    const result = await cli(['iam-policy', '--region', 'eu-west-1', '--account-id', '123456789012', '--cluster', 'demo']);
    expect(result.code, result.stderr).toBe(0);
    if (single <= INLINE_ROLE_POLICY_MAX_CHARS) {
      // While the table is small enough, stdout is the one policy.
      expect((JSON.parse(result.stdout) as PolicyDocument).Version).toBe('2012-10-17');
      expect(result.stderr).toMatch(/\d+ actions for stack demo .* in \d+ statements/);
      return;
    }
    expect(documentsOf(result.stdout).length).toBeGreaterThan(1);
    expect(result.stderr).toContain(`would take ${single.toLocaleString('en-US')} characters, over the 10,240 a role's inline policies may hold in all`);
  });

  it('--json prints one document: every policy with its name, document and size, the notes and counts', async () => {
    const result = await cli(['--json', 'iam-policy', '--include-doctor', '--split'], { AWS_REGION: 'us-east-1' });
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { command: string; region: string; account: string; actions: number; split: boolean; policies: { name: string; document: PolicyDocument; size: number }[]; notes: unknown[] };
    expect(document).toMatchObject({ command: 'iam-policy', region: 'us-east-1', account: '*', split: true, reason: 'asked' });
    expect(document.actions).toBeGreaterThan(100);
    for (const policy of document.policies) {
      expect(Object.keys(policy).sort()).toEqual(['document', 'name', 'size']);
      expect(policy.size).toBe(policySize(policy.document));
      expect(policy.size).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    }
    expect(document.notes).toHaveLength(document.policies.reduce((sum, policy) => sum + policy.document.Statement.length, 0));
  });

  it('--out-dir writes each policy to <dir>/<name>.json, and the commands name those files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authecs-policies-'));
    try {
      const result = await cli(['iam-policy', '--split', '--out-dir', dir, '--region', 'eu-west-1']);
      expect(result.code, result.stderr).toBe(0);
      const documents = documentsOf(result.stdout);
      documents.forEach(({ document }, index) => {
        const path = join(dir, `authecs-ecsauth-${index + 1}.json`);
        expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(document);
        expect(result.stderr).toContain(`--policy-document file://${path}`);
      });
      expect(readdirSync(dir)).toHaveLength(documents.length);
      expect(result.stderr).toContain('arn:aws:iam::<account-id>:policy/authecs-ecsauth-1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an account ID that is not 12 digits', async () => {
    const result = await cli(['iam-policy', '--account-id', '1234']);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('--account-id');
  });
});
