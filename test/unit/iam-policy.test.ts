import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';
import { NETWORK_TEMPLATE_GRANTS, SDK_CALLS, type PolicyContext, type SdkCall } from '../../src/iam/actions.js';
import { policyContextFrom } from '../../src/iam/context.js';
import { buildPolicy, policySize, type PolicyStatement } from '../../src/iam/policy.js';
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
    expect(keys).toContain('route-53:waitUntilResourceRecordSetsChanged');
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
    const expected = new Set(SDK_CALLS.filter((call) => !call.doctorOnly).flatMap((call) => call.grants.map((grant) => grant.action)));
    expect(new Set(built.actions)).toEqual(expected);
    expect(new Set(statements.map((statement) => statement.Sid)).size).toBe(statements.length);
    for (const statement of statements) {
      expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      for (const resource of resources) expect(resource).toMatch(/^(\*|arn:aws:[a-z0-9-]+:(eu-west-1)?:(123456789012)?:.+)$/);
    }
  });

  it('fits an inline role policy (10,240 characters)', () => {
    expect(policySize(built.document)).toBeLessThanOrEqual(10_240);
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
    const any = statements.filter((statement) => statement.Resource === '*');
    expect(any).toHaveLength(1);
    expect(any[0]!.Action).toEqual(expect.arrayContaining(['ec2:DescribeInstances', 'acm:RequestCertificate', 'cognito-idp:CreateUserPool', 'elasticloadbalancing:DescribeLoadBalancers']));
    expect(any[0]!.Action).not.toContain('ec2:RunInstances');
    const note = built.notes.find((one) => one.sid === any[0]!.Sid)!;
    expect(note.why.join(' ')).toContain('no resource-level permissions');
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

  it('adds what doctor reads only when asked', () => {
    expect(built.actions).not.toContain('iam:SimulatePrincipalPolicy');
    expect(buildPolicy(CONTEXT, { includeDoctor: true }).actions).toContain('iam:SimulatePrincipalPolicy');
  });
});

// ---- the command ----

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(args, { cwd: ROOT, env: { HOME: ROOT, ...env }, stdout, stderr, stdin });
  return { code, stdout: out, stderr: err };
}

describe('authecs iam-policy', () => {
  it('prints the policy alone on stdout, and why each statement is scoped so on stderr', async () => {
    const result = await cli(['iam-policy', '--region', 'eu-west-1', '--account-id', '123456789012', '--cluster', 'demo', '--domain', 'www.example.com']);
    expect(result.code, result.stderr).toBe(0);
    const policy = JSON.parse(result.stdout) as { Version: string; Statement: PolicyStatement[] };
    expect(policy.Version).toBe('2012-10-17');
    expect(JSON.stringify(policy)).toContain('arn:aws:ecs:eu-west-1:123456789012:cluster/demo');
    expect(result.stderr).toMatch(/\d+ actions in \d+ statements for stack demo/);
    expect(result.stderr).toContain('NoResourceLevelPermissions: no resource-level permissions');
  });

  it('--json prints one document with the policy, its notes and counts', async () => {
    const result = await cli(['--json', 'iam-policy', '--include-doctor'], { AWS_REGION: 'us-east-1' });
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { command: string; region: string; account: string; actions: number; policy: { Statement: unknown[] }; notes: unknown[] };
    expect(document).toMatchObject({ command: 'iam-policy', region: 'us-east-1', account: '*' });
    expect(document.actions).toBeGreaterThan(100);
    expect(document.notes).toHaveLength(document.policy.Statement.length);
  });

  it('rejects an account ID that is not 12 digits', async () => {
    const result = await cli(['iam-policy', '--account-id', '1234']);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('--account-id');
  });
});
