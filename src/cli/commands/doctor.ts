import type { Command } from 'commander';
import { ensureEndpointReachable } from '../../aws/endpoint.js';
import { loadBaseConfig, resolveSettings } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import type { CheckResult, CheckStatus } from '../../doctor/checks.js';
import { dnsOptionsFromEnv } from '../../doctor/dns.js';
import { configError, EXIT_CODES } from '../../errors.js';
import { policyContextFrom } from '../../iam/context.js';
import { flagsFrom } from '../io.js';
import type { CommandDefinition } from '../registry.js';
import { addStackSettingOptions } from '../settings-options.js';

const SYMBOL: Record<CheckStatus, string> = { pass: '✔', fail: '✖', unknown: '?' };

function lines(checks: CheckResult[]): string[] {
  const width = Math.max(...checks.map((check) => check.name.length));
  return checks.map((check) => `${SYMBOL[check.status]} ${check.status.padEnd(7)} ${check.name.padEnd(width)}  ${check.summary}`);
}

export const doctorCommand: CommandDefinition = {
  name: 'doctor',
  summary: 'check, without changing anything, that the account is ready for `up`: credentials, permissions, hosted zone delegation, instance profile, service-linked role, quotas (exit 0 only when nothing failed)',
  configure(command: Command) {
    // The same settings as `up`, so that doctor checks the run it precedes.
    addStackSettingOptions(command);
    command.addHelpText('after', `\nEach check prints pass, fail or unknown (it could not be made, and says why). Exit ${EXIT_CODES.success} when nothing failed, ${EXIT_CODES.notReady} (notReady) when a check failed.\n`);
  },
  async run({ command, reporter, io }) {
    const flags = flagsFrom(command);
    const base = loadBaseConfig({ flags, env: io.env, cwd: io.cwd });
    if (!base.region) throw configError('--region', 'is not set', 'Pass --region or set AWS_REGION (doctor checks one region).');
    const { values } = resolveSettings({ flags, env: io.env, cwd: io.cwd });
    const launchType = configSchema.shape.launchType.safeParse(values.launchType ?? 'EC2');
    if (!launchType.success) throw configError('--launch-type', `"${String(values.launchType)}" must be EC2 or FARGATE`, 'Pass --launch-type EC2 or FARGATE.');
    if (values.domain !== undefined && !configSchema.shape.domain.safeParse(values.domain).success) {
      throw configError('--domain', `"${String(values.domain)}" must be a DNS name such as www.example.com`, 'Pass the site name users open, e.g. --domain www.example.com.');
    }
    await ensureEndpointReachable(base.endpointUrl);

    // The AWS SDK loads only when a command runs, so --help answers at once.
    const [{ createClients, destroyClients }, { doctorClients }, { runDoctor }] = await Promise.all([
      import('../../aws/clients.js'),
      import('../../doctor/clients.js'),
      import('../../doctor/checks.js'),
    ]);
    const options = { region: base.region, ...(base.profile ? { profile: base.profile } : {}), ...(base.endpointUrl ? { endpointUrl: base.endpointUrl } : {}) };
    const aws = createClients({ ...options, reporter });
    const common = { region: base.region, ...(base.profile ? { profile: base.profile } : {}), ...(base.endpointUrl ? { endpoint: base.endpointUrl } : {}), retryMode: 'adaptive', maxAttempts: 3 };
    const extra = doctorClients(common);
    try {
      const context = policyContextFrom({ values: { ...values, region: base.region } });
      reporter.info(`authecs doctor: stack ${context.stack} in ${base.region}${base.endpointUrl ? ` via ${base.endpointUrl}` : ''}`);
      const report = await runDoctor(
        { ...extra, route53: aws.route53, ec2: aws.ec2, elbv2: aws.elbv2 },
        { region: base.region, launchType: launchType.data, createNetwork: values.createNetwork === true, policy: context },
        dnsOptionsFromEnv(io.env),
      );
      const failed = report.checks.filter((check) => check.status === 'fail');
      const unknowns = report.checks.filter((check) => check.status === 'unknown');
      const ok = failed.length === 0;
      reporter.result(
        { command: 'doctor', ok, stack: context.stack, region: base.region, account: report.account ?? null, principal: report.principal ?? null, checks: report.checks },
        [
          ...lines(report.checks),
          '',
          ok
            ? `Ready: no check failed${unknowns.length ? ` (${unknowns.length} could not be made; see above)` : ''}.`
            : `Not ready: ${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.map((check) => check.name).join(', ')}).`,
        ],
      );
      return ok ? EXIT_CODES.success : EXIT_CODES.notReady;
    } finally {
      destroyClients(aws);
      for (const client of Object.values(extra)) client.destroy();
    }
  },
};
