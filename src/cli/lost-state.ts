import type { Command } from 'commander';
import { loadBaseConfig } from '../config/load.js';
import { SETTINGS } from '../config/schema.js';
import type { Config } from '../config/schema.js';
import { discover, stackResources, type Discovery, type FoundResource } from '../engine/recover.js';
import { AuthecsError } from '../errors.js';
import type { Reporter } from '../report/reporter.js';
import { defaultStatePath } from '../state/state-file.js';
import { STEPS } from '../steps/index.js';
import { flagsFrom, statePathOf, type Io } from './io.js';
import { openDiscoverySession } from './session.js';

/**
 * `status` and `down` without a state file (issue 11): a lost state file is not a deleted stack.
 * They look for the stack's resources, read-only, and stop when any is still there.
 */

/** The stack still has resources, but no state file says so: run `recover` first. */
export class StackWithoutStateError extends AuthecsError {
  readonly resources: FoundResource[];

  constructor(stateFile: string, config: Config, resources: FoundResource[], recoverCommand: string) {
    super(`No state file at ${stateFile}, but stack ${config.cluster} still has ${resources.length} resource(s) in ${config.region} that authecs made`, {
      code: 'STATE_MISSING_STACK_EXISTS',
      exit: 'state',
      hint: `Run \`${recoverCommand}\` (with the setting flags you gave \`up\`) to rebuild the state file from them, then run this command again.`,
      details: { stateFile, stack: config.cluster, region: config.region, resources: resources.map(({ step, title, id }) => ({ step, title, id })) },
    });
    this.name = 'StackWithoutStateError';
    this.resources = resources;
  }

  override detailLines(): string[] {
    return this.resources.map((resource) => `  ${resource.step}: ${resource.id}`);
  }
}

/** `authecs recover` with what names this stack, so the hint can be pasted as it is. */
export function recoverCommandFor(config: Config, stateFile: string, io: Io): string {
  const custom = stateFile !== defaultStatePath(io.cwd, config.cluster) ? ` --state ${stateFile}` : '';
  return `authecs recover --cluster ${config.cluster} --domain ${config.domain} --region ${config.region}${custom}`;
}

export interface NoStackFound {
  config: Config;
  discovery: Discovery;
}

/**
 * Looks for the stack with the settings of this run (flags, environment, .env) and throws
 * StackWithoutStateError when anything authecs made is there. Writes nothing, locks nothing.
 */
export async function lookForStack(command: Command, reporter: Reporter, io: Io): Promise<NoStackFound> {
  const base = loadBaseConfig({ flags: flagsFrom(command), env: io.env, cwd: io.cwd });
  const stateFile = statePathOf(base, io);
  let session: Awaited<ReturnType<typeof openDiscoverySession>>;
  try {
    session = await openDiscoverySession(command, reporter, io);
  } catch (error) {
    if (!(error instanceof AuthecsError) || error.exit !== 'usage') throw error;
    throw new AuthecsError(`No state file at ${stateFile}, and without the stack's settings authecs cannot look for what may still run of stack ${base.cluster}: ${error.message}`, {
      code: 'STATE_MISSING_SETTINGS',
      exit: 'usage',
      cause: error,
      hint: `Give the settings you gave \`up\` (at least --domain and --region, or AUTH_ECS_DOMAIN and AWS_REGION), or --state / --cluster to point at the state file. ${error.hint ?? ''}`.trim(),
    });
  }
  try {
    const { config } = session.environment;
    reporter.info(`No state file at ${stateFile}: looking for the resources of stack ${config.cluster} in ${config.region} by their tags and names`);
    const discovery = await discover(session.environment, STEPS);
    const resources = stackResources(discovery);
    if (resources.length > 0) throw new StackWithoutStateError(stateFile, config, resources, recoverCommandFor(config, stateFile, io));
    return { config, discovery };
  } finally {
    session.close();
  }
}

/** With a state file, the setting flags are not used: say so rather than ignore them silently. */
export function warnUnusedSettingFlags(command: Command, reporter: Reporter, stateFile: string): void {
  const flags = flagsFrom(command);
  const given = SETTINGS.filter((setting) => setting.upOnly && flags[setting.key] !== undefined).map((setting) => setting.flag!.split(' ')[0]!);
  if (given.length === 0) return;
  reporter.warn(`${given.join(', ')} not used: the settings recorded in ${stateFile} apply (setting flags matter only when there is no state file; \`authecs up\` changes settings)`);
}
