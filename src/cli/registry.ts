import type { Command } from 'commander';
import type { Reporter } from '../report/reporter.js';
import type { Io } from './io.js';
import { claimsCommand } from './commands/claims.js';
import { deployCommand } from './commands/deploy.js';
import { doctorCommand } from './commands/doctor.js';
import { downCommand } from './commands/down.js';
import { iamPolicyCommand } from './commands/iam-policy.js';
import { logsCommand } from './commands/logs.js';
import { planCommand } from './commands/plan.js';
import { recoverCommand } from './commands/recover.js';
import { smokeCommand } from './commands/smoke.js';
import { statusCommand } from './commands/status.js';
import { upCommand } from './commands/up.js';
import { usersCommand } from './commands/users.js';

export interface CommandRun {
  command: Command;
  reporter: Reporter;
  io: Io;
  /** Cleanup to run if the user presses Ctrl-C (release the lock). */
  onInterrupt(cleanup: () => void): void;
  /**
   * A command that changes AWS stops gracefully on the first Ctrl-C while a changing call is in
   * flight: `stop` ends its waits and lets no new call out, the calls in flight finish and are
   * recorded, and the command then fails with INTERRUPTED through its own error path (releasing
   * its lock). `stop` returns false when nothing changing is in flight: the command quits at once.
   * A second Ctrl-C, or GRACEFUL_STOP_SECONDS without an end, quits at once too.
   */
  onStop(stop: () => boolean): void;
}

export interface CommandDefinition {
  name: string;
  summary: string;
  configure(command: Command): void;
  /** Resolves to the exit code; throws AuthecsError for anything the user must fix. */
  run(run: CommandRun): Promise<number>;
  /** Changes nothing in AWS or the state file: Ctrl-C needs no "carry on" hint. */
  readOnly?: boolean;
  /** Sub-commands (e.g. `claims verify`), registered under this one. */
  subcommands?: CommandDefinition[];
}

/** Every command, declared once; main.ts wires them into commander. */
export const COMMANDS: CommandDefinition[] = [upCommand, planCommand, deployCommand, statusCommand, logsCommand, downCommand, recoverCommand, claimsCommand, usersCommand, iamPolicyCommand, doctorCommand, smokeCommand];
