import type { Command } from 'commander';
import { AuthecsError, usageError } from '../../errors.js';
import type { Reporter } from '../../report/reporter.js';
import type { UserPoolOutput } from '../../steps/outputs.js';
import type { AddedUser, PoolUser } from '../../users/pool-users.js';
import { confirm, describeStatePath } from '../io.js';
import type { CommandDefinition, CommandRun } from '../registry.js';
import type { Session } from '../session.js';

// Said after every change that takes someone's access away: the ALB does not ask Cognito again
// until its session needs refreshing (README, "Users").
const SESSION_NOTE = 'A session the load balancer already issued stays valid until it next refreshes it with Cognito (when the access token expires, 1 hour by default) or it times out (--session-timeout, 7 days by default).';

interface PoolSession {
  session: Session;
  userPoolId: string;
  stack: string;
}

/** The stack's user pool, from the state file; exit 6 when there is none yet. */
async function openUserPool({ command, reporter, io, onInterrupt }: CommandRun): Promise<PoolSession> {
  const { openStateSession } = await import('../session.js');
  const session = await openStateSession(command, reporter, io, undefined);
  if (!session) {
    throw new AuthecsError(`No state file at ${describeStatePath(command, io)}: no stack has been brought up with these settings, so there is no user pool`, {
      code: 'STATE_MISSING',
      exit: 'notFound',
      hint: 'Run `authecs up` first, or pass --state / --cluster to point at an existing state file.',
    });
  }
  onInterrupt(() => session.close());
  const userPoolId = session.state.get<Partial<UserPoolOutput>>('user-pool')?.data.userPoolId;
  if (!userPoolId) {
    session.close();
    throw new AuthecsError(`The state file ${session.state.path} records no user pool: stack ${session.environment.stack} has not been brought up (or not that far)`, {
      code: 'USER_POOL_MISSING',
      exit: 'notFound',
      hint: 'Run `authecs up` (it makes the user pool), then `authecs users` again.',
    });
  }
  return { session, userPoolId, stack: session.environment.stack };
}

async function withUserPool(run: CommandRun, body: (pool: PoolSession) => Promise<number>): Promise<number> {
  const pool = await openUserPool(run);
  try {
    return await body(pool);
  } finally {
    pool.session.close();
  }
}

function emailArgument(command: Command): string {
  return command.processedArgs[0] as string;
}

const poolUsers = () => import('../../users/pool-users.js');

// ---- add ----

interface AddOptions {
  group?: string[];
  invite: boolean;
  showPassword?: boolean;
}

/**
 * Where the temporary password of --no-invite may go: a terminal, or anywhere the person asked
 * for with --show-password. Checked before any AWS call, so a refused run creates nothing.
 */
function checkPasswordOutput(options: AddOptions, reporter: Reporter, stdoutIsTerminal: boolean): void {
  if (options.invite || options.showPassword) return;
  if (reporter.json) {
    throw new AuthecsError('`users add --no-invite --json` would put the temporary password in the JSON document', {
      code: 'PASSWORD_OUTPUT_REFUSED',
      exit: 'usage',
      hint: 'Add --show-password to include it there (as "temporaryPassword"), or leave out --json to see it at the terminal.',
    });
  }
  if (!stdoutIsTerminal) {
    throw new AuthecsError('`users add --no-invite` shows the temporary password only at a terminal, and stdout is not one (a pipe or a file)', {
      code: 'PASSWORD_OUTPUT_REFUSED',
      exit: 'usage',
      hint: 'Run it at a terminal, or add --show-password to print the password to stdout anyway.',
    });
  }
}

function addedLines(user: AddedUser, userPoolId: string, stack: string, domain: string | undefined): string[] {
  const site = domain ? `https://${domain}` : 'the site';
  const lines = [
    user.temporaryPassword === undefined
      ? `Invited ${user.email} to user pool ${userPoolId} (stack ${stack}): Cognito emails them a temporary password, and they choose their own at the first sign-in at ${site}.`
      : `Added ${user.email} to user pool ${userPoolId} (stack ${stack}); no invitation was sent.`,
  ];
  if (user.groupsCreated.length > 0) lines.push(`Created group${user.groupsCreated.length > 1 ? 's' : ''} ${user.groupsCreated.join(', ')}.`);
  if (user.groups.length > 0) lines.push(`Groups: ${user.groups.join(', ')}.`);
  if (user.temporaryPassword !== undefined) {
    lines.push(`Temporary password (shown this once, stored nowhere): ${user.temporaryPassword}`);
    lines.push(`Give it to ${user.email} yourself; they sign in at ${site} and must choose a new password.`);
  }
  return lines;
}

const addCommand: CommandDefinition = {
  name: 'add',
  summary: "add a user (the email is the username) to the stack's user pool; Cognito emails an invitation with a temporary password",
  configure(command: Command) {
    command.argument('<email>', 'the address the person signs in with');
    command.option('--group <name>', 'also put the user in this group, made first if the pool lacks it (repeatable)', (group: string, previous: string[] | undefined) => [...(previous ?? []), group]);
    command.option('--no-invite', 'send no email: generate a temporary password and show it once, at the terminal');
    command.option('--show-password', 'with --no-invite: print the temporary password even when stdout is not a terminal, and in --json as "temporaryPassword"');
    command.addHelpText(
      'after',
      '\nThe temporary password of --no-invite is generated in memory to meet the pool\'s password policy and is never written to the state file or a log. It is printed once, to stdout, only when stdout is a terminal; with --json, or when stdout is a pipe or a file, the command refuses (exit 2, nothing created) unless --show-password is given.\nExit codes: 2 bad email or group name, 5 the user already exists, 6 no user pool yet (run `authecs up`).\n',
    );
  },
  async run(run: CommandRun) {
    const { command, reporter, io } = run;
    const options = command.opts() as AddOptions;
    const { checkEmail, checkGroupName, addUser } = await poolUsers();
    const email = checkEmail(emailArgument(command));
    const groups = [...new Set((options.group ?? []).map(checkGroupName))];
    checkPasswordOutput(options, reporter, Boolean(io.stdout.isTTY));
    return withUserPool(run, async ({ session, userPoolId, stack }) => {
      const report = (user: AddedUser) =>
        reporter.result(
          {
            command: 'users add',
            ok: true,
            stack,
            userPoolId,
            email: user.email,
            username: user.username,
            status: user.status,
            invited: user.temporaryPassword === undefined,
            groups: user.groups,
            groupsCreated: user.groupsCreated,
            // Only when asked for: a JSON document is easily kept in a CI log.
            ...(user.temporaryPassword !== undefined && options.showPassword ? { temporaryPassword: user.temporaryPassword } : {}),
            mutations: reporter.mutations,
          },
          addedLines(user, userPoolId, stack, session.environment.config.domain),
        );
      const user = await addUser(session.clients.cognito, { userPoolId, email, groups, invite: options.invite }, report);
      report(user);
      return 0;
    });
  },
};

// ---- list ----

function userTable(users: PoolUser[]): string[] {
  const rows = users.map((user) => [user.email ?? `(no email) ${user.username}`, user.status, user.enabled ? 'yes' : 'no', user.groups.join(',') || '-', user.createdAt ? `${user.createdAt.slice(0, 16).replace('T', ' ')}Z` : '-']);
  const header = ['EMAIL', 'STATUS', 'ENABLED', 'GROUPS', 'CREATED'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

const listCommand: CommandDefinition = {
  name: 'list',
  summary: "list the users of the stack's user pool: email, status, enabled, groups, created",
  configure() {},
  async run(run: CommandRun) {
    const { reporter } = run;
    const { listUsers } = await poolUsers();
    return withUserPool(run, async ({ session, userPoolId, stack }) => {
      const users = await listUsers(session.clients.cognito, userPoolId);
      reporter.result(
        { command: 'users list', ok: true, stack, userPoolId, users },
        users.length === 0 ? [`No users in user pool ${userPoolId} (stack ${stack}). Add one with \`authecs users add EMAIL\`.`] : userTable(users),
      );
      return 0;
    });
  },
};

// ---- remove ----

const removeCommand: CommandDefinition = {
  name: 'remove',
  summary: "delete a user from the stack's user pool (asks first at a terminal)",
  configure(command: Command) {
    command.argument('<email>', 'the user to delete');
    command.option('-y, --yes', 'do not ask for confirmation (required when not at a terminal)');
  },
  async run(run: CommandRun) {
    const { command, reporter, io } = run;
    const options = command.opts() as { yes?: boolean };
    const { checkEmail, removeUser } = await poolUsers();
    const email = checkEmail(emailArgument(command));
    return withUserPool(run, async ({ session, userPoolId, stack }) => {
      if (!options.yes) {
        if (!io.stdin.isTTY) {
          throw new AuthecsError('`authecs users remove` needs --yes when it is not run at a terminal', {
            code: 'CONFIRMATION_REQUIRED',
            exit: 'usage',
            hint: 'Add --yes to delete the user without asking.',
          });
        }
        if (!(await confirm(io, `Delete user ${email} from user pool ${userPoolId} (stack ${stack})? This cannot be undone.`))) {
          reporter.info('Nothing was deleted.');
          return 0;
        }
      }
      await removeUser(session.clients.cognito, userPoolId, email);
      reporter.result({ command: 'users remove', ok: true, stack, userPoolId, email, mutations: reporter.mutations }, [`Deleted user ${email} from user pool ${userPoolId}.`, SESSION_NOTE]);
      return 0;
    });
  },
};

// ---- disable, enable ----

function enableCommand(enabled: boolean): CommandDefinition {
  const name = enabled ? 'enable' : 'disable';
  return {
    name,
    summary: enabled ? 'let a disabled user sign in again' : 'stop a user from signing in, keeping the account (undo with `users enable`)',
    configure(command: Command) {
      command.argument('<email>', `the user to ${name}`);
    },
    async run(run: CommandRun) {
      const { command, reporter } = run;
      const { checkEmail, setUserEnabled } = await poolUsers();
      const email = checkEmail(emailArgument(command));
      return withUserPool(run, async ({ session, userPoolId, stack }) => {
        await setUserEnabled(session.clients.cognito, userPoolId, email, enabled);
        reporter.result(
          { command: `users ${name}`, ok: true, stack, userPoolId, email, enabled, mutations: reporter.mutations },
          enabled ? [`Enabled user ${email}: they can sign in again.`] : [`Disabled user ${email}: they can no longer sign in.`, SESSION_NOTE],
        );
        return 0;
      });
    },
  };
}

export const usersCommand: CommandDefinition = {
  name: 'users',
  summary: "manage who may sign in: the users and groups of the stack's user pool",
  configure(_command: Command) {},
  // Never called: main.ts runs the sub-command. Reaching it would be a usage error.
  async run() {
    throw usageError('Name a `users` sub-command: add, list, remove, disable or enable');
  },
  subcommands: [addCommand, listCommand, removeCommand, enableCommand(false), enableCommand(true)],
};
