import type { Command } from 'commander';
import { resolveSettings } from '../../config/load.js';
import { SETTINGS_BY_KEY } from '../../config/schema.js';
import { POLICY_SETTINGS, policyContextFrom } from '../../iam/context.js';
import { buildPolicy, MANAGED_POLICY_MAX_CHARS, policySize } from '../../iam/policy.js';
import { flagsFrom } from '../io.js';
import type { CommandDefinition } from '../registry.js';

interface PolicyOptions {
  accountId?: string;
  instanceRole?: string;
  includeDoctor?: boolean;
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
  summary: 'print the least-privilege IAM policy that up, status, plan and down need (scoped by the authecs:stack tag and resource names)',
  configure(command: Command) {
    addPolicySettingOptions(command);
    command.option('--account-id <id>', 'the account the policy is for (default: any account, "*")');
    command.option('--instance-role <name>', 'the role inside the instance profile, passed to EC2 (default: the instance profile name)');
    command.option('--include-doctor', "also allow what `authecs doctor` reads (iam:SimulatePrincipalPolicy, quotas, the instance profile)");
    command.addHelpText(
      'after',
      '\nThe policy is built from the table of every AWS call authecs makes (src/iam/actions.ts). Region and names come from the same flags, environment and .env as `up`; without a region the policy is for any region.\n',
    );
  },
  async run({ command, reporter, io }) {
    const options = command.opts() as PolicyOptions;
    const { values } = resolveSettings({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
    const context = policyContextFrom({ values, accountId: options.accountId, instanceRole: options.instanceRole });
    const built = buildPolicy(context, { includeDoctor: Boolean(options.includeDoctor) });
    const size = policySize(built.document);
    const summary =
      `${built.actions.length} actions in ${built.document.Statement.length} statements for stack ${context.stack} (region ${context.region}, account ${context.account}); ` +
      `${size} characters${size > MANAGED_POLICY_MAX_CHARS ? `, over the ${MANAGED_POLICY_MAX_CHARS} a managed policy may hold: attach it as an inline policy of the role (up to 10,240), or split its statements across two managed policies` : ''}.`;
    if (!reporter.json) {
      // IAM policies hold no comments: the reasons go to stderr, the policy alone to stdout.
      reporter.info(summary);
      for (const note of built.notes) reporter.info(`  ${note.sid}: ${note.why.join('; ')}`);
    }
    reporter.result(
      {
        command: 'iam-policy',
        stack: context.stack,
        region: context.region,
        account: context.account,
        actions: built.actions.length,
        scopes: built.scopeCounts,
        size,
        policy: built.document,
        notes: built.notes,
      },
      [JSON.stringify(built.document, null, 2)],
    );
    return 0;
  },
};
