import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { SETTINGS, signOutUrlOf } from '../../config/schema.js';
import { formatDuration } from '../../report/reporter.js';
import type { AppClientOutput, KeyPairOutput, UserPoolDomainOutput } from '../../steps/outputs.js';
import { CONCURRENCY_FLAG, concurrencyFrom, confirm } from '../io.js';
import { planDocument, settingChangeLines, settingChangesDocument } from '../plan-view.js';
import { addStackSettingOptions } from '../settings-options.js';
import type { CommandDefinition } from '../registry.js';
import type { KeyFilePolicy } from '../../state/state-file.js';

export const SECURE_DEFAULTS_HELP = SETTINGS.filter((setting) => setting.why)
  .map((setting) => `  ${setting.flag?.split(' ')[0] ?? setting.key}: ${setting.why}`)
  .join('\n');

// Choices with no setting to change them; the README's "differs from the article" table says more.
const FIXED_CHOICES_HELP = [
  '  instances: a launch template with IMDSv2 required, not ecs-cli\'s launch configuration (new accounts cannot create those; IMDSv2 blocks SSRF credential theft).',
  '  service: ECS\'s service-linked role instead of the legacy ecsServiceRole.',
  '  user pool: account recovery only through a verified email; a changed email stays unverified until confirmed.',
  '  target group: 60 s deregistration delay (AWS default 300 s), so deploys and teardown do not stall.',
  '  teardown: `down` revokes only the rules and deletes only the DNS records authecs added; it never deletes the hosted zone, or a network it did not create.',
  '  secrets: the Cognito client secret is never printed or stored; the key pair\'s private key goes only to a 0600 file.',
].join('\n');


export const upCommand: CommandDefinition = {
  name: 'up',
  summary: 'make the live stack match the settings: create, update or replace what differs, or carry on where an earlier run stopped',
  configure(command: Command) {
    addStackSettingOptions(command);
    command.option(...CONCURRENCY_FLAG);
    command.option('-y, --yes', 'accept changes that destroy data or stop the site (required for them when not at a terminal)');
    command.option('--no-key-file', "keep no file of a new key pair's private key (EC2 launch type): nobody can SSH to the instances with it");
    command.addHelpText(
      'after',
      `\nWhere authecs is more secure than the article, and why:\n${SECURE_DEFAULTS_HELP}\n${FIXED_CHOICES_HELP}\n`,
    );
  },
  async run({ command, reporter, io, onInterrupt, onStop }) {
    const concurrency = concurrencyFrom(command);
    const { yes } = command.opts() as { yes?: boolean };
    // The AWS SDK loads only when a command runs, so --help answers at once.
    const [{ up }, { STEPS }, { openUpSession }, { timingLines }] = await Promise.all([
      import('../../engine/actions.js'),
      import('../../steps/index.js'),
      import('../session.js'),
      import('../../engine/timing.js'),
    ]);
    const session = await openUpSession(command, reporter, io);
    onInterrupt(() => session.close());
    onStop(() => session.stop());
    try {
      const { config, state } = session.environment;
      reporter.info(`authecs up: stack ${config.cluster} in ${config.region}${config.endpointUrl ? ` via ${config.endpointUrl}` : ''}`);
      for (const line of settingChangeLines(session.settingChanges)) if (line) reporter.info(line);
      reporter.plan(STEPS.filter((step) => (step.enabled?.(config) ?? true) || state.get(step.name) !== undefined));
      const confirmLoss = async (losses: { title: string; action: string; loss?: string }[]) => {
        if (yes) return true;
        if (!io.stdin.isTTY) return false;
        await reporter.finish();
        return confirm(io, `This run destroys data or stops the site: ${losses.map((entry) => `${entry.title} ${entry.action}: ${entry.loss}`).join('; ')}. Go ahead?`);
      };
      const result = await up(session.environment, STEPS, { ...(concurrency ? { concurrency } : {}), confirmLoss });
      state.saveSettings();
      await reporter.finish();
      // No direct hosted-UI link: a sign-in that does not start at the ALB lacks its state and nonce, and
      // the ALB answers 401 (ELB troubleshooting: AuthMissingStateParam, AuthMissingAWSALBAuthNonce).
      const signInDomain = state.get<UserPoolDomainOutput>('user-pool-domain')?.data.hostedUiBaseUrl;
      const clientId = state.get<AppClientOutput>('app-client')?.data.clientId;
      const url = `https://${config.domain}/`;
      // Cognito's /logout ends its session and sends the user to --sign-out-url (an allowed sign-out URL of the client).
      const signOutUrl = signInDomain && clientId ? `${signInDomain}/logout?client_id=${encodeURIComponent(clientId)}&logout_uri=${encodeURIComponent(signOutUrlOf(config))}` : undefined;
      const elapsed = formatDuration(reporter.elapsedMs);
      const keyLines = privateKeyLines(config.launchType === 'EC2' ? state.get<KeyPairOutput>('key-pair')?.data.keyName : undefined, session.environment.keyFiles, state.shared);
      reporter.result(
        {
          command: 'up',
          ok: true,
          stack: config.cluster,
          region: config.region,
          changed: result.changed,
          url,
          signInDomain,
          signUp: config.signUp,
          signOutUrl,
          stateFile: state.path,
          elapsedMs: reporter.elapsedMs,
          steps: result.outcomes,
          settingsChanged: settingChangesDocument(session.settingChanges),
          plan: planDocument(result.plan),
          criticalPath: result.timing.criticalPath,
          makespanMs: result.timing.makespanMs,
          waitingMs: result.timing.waitingMs,
          mutations: reporter.mutations,
        },
        [
          result.changed ? `\nauthecs is up (${elapsed}).` : `\nEverything is up to date; no changes were made (${elapsed}).`,
          `  Site:       ${url}`,
          ...(signInDomain ? [`  Sign-in:    opening the site sends you to ${signInDomain} to sign in, then back`] : []),
          config.signUp === 'invite-only'
            ? '  Users:      invite-only: `authecs users add EMAIL` invites one'
            : '  Users:      open: anyone can make an account from the sign-in page',
          ...(signOutUrl ? [`  Sign-out:   ${signOutUrl}`] : []),
          ...keyLines,
          `  State file: ${state.path}`,
          ...timingLines(result.timing),
        ],
      );
      return 0;
    } finally {
      await reporter.finish();
      session.close();
    }
  },
};

/** Where the key pair's private key is, when that is not simply beside a local state file. */
function privateKeyLines(keyName: string | undefined, keyFiles: KeyFilePolicy | undefined, shared: boolean): string[] {
  if (keyName === undefined || keyFiles === undefined) return [];
  const keyFile = keyFiles.pathFor(keyName);
  if (keyFile === undefined) return [`  Key pair:   ${keyName}: its private key was not kept (--no-key-file)`];
  if (!shared) return [];
  return existsSync(keyFile)
    ? [`  Key pair:   ${keyName}: private key in ${keyFile} (this machine only; never written to S3)`]
    : [`  Key pair:   ${keyName}: its private key is not on this machine (the run that made the pair kept it)`];
}
