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
