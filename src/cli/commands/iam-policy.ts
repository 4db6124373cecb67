import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveSettings } from '../../config/load.js';
import { SETTINGS_BY_KEY } from '../../config/schema.js';
import { POLICY_SETTINGS, policyContextFrom } from '../../iam/context.js';
import type { PolicyContext } from '../../iam/actions.js';
import {
  buildPolicy,
  INLINE_ROLE_POLICY_MAX_CHARS,
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_MAX_CHARS,
  layOutPolicy,
  policySize,
  type PolicyDocument,
} from '../../iam/policy.js';
import type { Reporter } from '../../report/reporter.js';
import { flagsFrom } from '../io.js';
import type { CommandDefinition } from '../registry.js';

interface PolicyOptions {
  accountId?: string;
  instanceRole?: string;
  includeDoctor?: boolean;
  split?: boolean;
  outDir?: string;
}

// Not toLocaleString: loading ICU's number formats costs every command 20 ms at start-up (this runs in configure).
const count = (value: number): string => String(value).replace(/\B(?=(\d{3})+$)/g, ',');

/** Writes each document to <dir>/<name>.json; returns the paths the aws commands should name. */
function writeDocuments(outDir: string | undefined, cwd: string, policies: readonly { name: string; document: PolicyDocument }[]): Map<string, string> {
  const paths = new Map<string, string>();
  for (const { name, document } of policies) {
    const path = outDir ? join(outDir, `${name}.json`) : `${name}.json`;
    if (outDir) {
      mkdirSync(resolve(cwd, outDir), { recursive: true });
      writeFileSync(resolve(cwd, path), `${JSON.stringify(document, null, 2)}\n`);
    }
    paths.set(name, path);
  }
  return paths;
}

/** How to create the managed policies and attach them to the role that runs authecs. */
function attachHowTo(reporter: Reporter, context: PolicyContext, paths: Map<string, string>, written: boolean): void {
  const account = context.account === '*' ? '<account-id>' : context.account;
  reporter.info(written ? `Wrote ${[...paths.values()].join(', ')}. To create and attach them:` : 'To create and attach them, save each document above as the file named below (or pass --out-dir), then:');
  for (const [name, path] of paths) {
    reporter.info(`  aws iam create-policy --policy-name ${name} --policy-document file://${path}`);
    reporter.info(`  aws iam attach-role-policy --role-name <role> --policy-arn arn:${context.partition}:iam::${account}:policy/${name}`);
  }
}

/** The settings flags the policy's names come from, declared as `up` declares them. */
export function addPolicySettingOptions(command: Command): void {
  for (const key of POLICY_SETTINGS) {
    const setting = SETTINGS_BY_KEY.get(key)!;
    const env = setting.env.length ? ` [env: ${setting.env.join(', ')}]` : '';
    command.option(setting.flag!, `${setting.description}${env}`);
  }
}

export const iamPolicyCommand: CommandDefinition = {
  name: 'iam-policy',
  summary: 'print the least-privilege IAM policy that up, status, plan, logs and down need (scoped by the authecs:stack tag and resource names)',
  configure(command: Command) {
    addPolicySettingOptions(command);
    command.option('--account-id <id>', 'the account the policy is for (default: any account, "*")');
    command.option('--instance-role <name>', 'the role inside the instance profile, passed to EC2 (default: the instance profile name)');
    command.option('--include-doctor', "also allow what `authecs doctor` reads (iam:SimulatePrincipalPolicy, quotas, the instance profile)");
    command.option('--split', `print managed policies of at most ${count(MANAGED_POLICY_MAX_CHARS)} characters each (automatic when the one policy is over the ${count(INLINE_ROLE_POLICY_MAX_CHARS)} a role's inline policies may hold)`);
    command.option('--out-dir <dir>', 'also write each policy document to <dir>/<name>.json');
    command.addHelpText(
      'after',
      `\nThe policy is built from the table of every AWS call authecs makes (src/iam/actions.ts). Region and names come from the same flags, environment and .env as \`up\`; without a region the policy is for any region.\n` +
        `IAM limits (whitespace not counted): a managed policy ${count(MANAGED_POLICY_MAX_CHARS)} characters; all inline policies of a role ${count(INLINE_ROLE_POLICY_MAX_CHARS)} together; ${MANAGED_POLICIES_PER_ROLE} managed policies per role by default.\n` +
        'Split policies are named authecs-<stack>-1, -2, ... and group the statements by service.\n',
    );
  },
  async run({ command, reporter, io }) {
    const options = command.opts() as PolicyOptions;
    const { values } = resolveSettings({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
    const context = policyContextFrom({ values, accountId: options.accountId, instanceRole: options.instanceRole });
    const built = buildPolicy(context, { includeDoctor: Boolean(options.includeDoctor) });
    const size = policySize(built.document);
    const layout = layOutPolicy(built, { namePrefix: `authecs-${context.stack}`, split: Boolean(options.split) });
    const { policies, notes } = layout;
    const paths = writeDocuments(options.outDir, io.cwd, policies);
    const about = `${built.actions.length} actions for stack ${context.stack} (region ${context.region}, account ${context.account})`;
    const document = { command: 'iam-policy', stack: context.stack, region: context.region, account: context.account, actions: built.actions.length, scopes: built.scopeCounts, size, split: layout.split };
    const listed = policies.map(({ name, document: policy, size: policySizeOf }) => ({ name, document: policy, size: policySizeOf }));

    if (!layout.split) {
      if (!reporter.json) {
        // IAM policies hold no comments: the reasons go to stderr, the policy alone to stdout.
        reporter.info(
          `${about} in ${built.document.Statement.length} statements; ${count(size)} characters: attach it inline to a role (a role's inline policies hold ${count(INLINE_ROLE_POLICY_MAX_CHARS)} in all)` +
            `${size > MANAGED_POLICY_MAX_CHARS ? `, or pass --split for managed policies of at most ${count(MANAGED_POLICY_MAX_CHARS)} each` : ''}.`,
        );
        for (const note of notes) reporter.info(`  ${note.sid}: ${note.why.join('; ')}`);
        if (options.outDir) reporter.info(`Wrote ${[...paths.values()].join(', ')}.`);
      }
      reporter.result({ ...document, policy: built.document, policies: listed, notes }, [JSON.stringify(built.document, null, 2)]);
      return 0;
    }

    if (!reporter.json) {
      reporter.info(
        layout.reason === 'too-big-for-inline'
          ? `As one policy, the ${about} would take ${count(size)} characters, over the ${count(INLINE_ROLE_POLICY_MAX_CHARS)} a role's inline policies may hold in all: split into ${policies.length} managed policies of at most ${count(MANAGED_POLICY_MAX_CHARS)} characters each.`
          : `${about} in ${policies.length} managed policies of at most ${count(MANAGED_POLICY_MAX_CHARS)} characters each.`,
      );
      for (const note of notes) reporter.info(`  ${note.sid}: ${note.why.join('; ')}`);
    }
    if (policies.length > MANAGED_POLICIES_PER_ROLE) {
      reporter.warn(`${policies.length} managed policies is more than the ${MANAGED_POLICIES_PER_ROLE} a role may have attached by default: raise the IAM quota "Managed policies per role" first.`);
    }
    reporter.result(
      { ...document, reason: layout.reason, policies: listed, notes },
      policies.flatMap((policy, index) => [
        ...(index > 0 ? [''] : []),
        `# ${policy.name}: ${count(policy.size)} of ${count(MANAGED_POLICY_MAX_CHARS)} characters (${policy.services.join(', ')})`,
        JSON.stringify(policy.document, null, 2),
      ]),
    );
    // After the documents, so that "above" is where they are.
    if (!reporter.json) attachHowTo(reporter, context, paths, Boolean(options.outDir));
    return 0;
  },
};
