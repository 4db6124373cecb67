import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  DescribeUserPoolCommand,
  GetGroupCommand,
  ListUsersCommand,
  ResourceNotFoundException,
  UsernameExistsException,
  UserNotFoundException,
  type AdminCreateUserCommandInput,
  type PasswordPolicyType,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';
import { generateTemporaryPassword, meetsPasswordPolicy, TEMPORARY_PASSWORD_LENGTH } from '../../src/users/temporary-password.js';

const cognito = mockClient(CognitoIdentityProviderClient);

const POOL_ID = 'eu-west-1_AbCdEf123';
const EMAIL = 'alice@example.com';
const STRICT_POLICY: PasswordPolicyType = { MinimumLength: 24, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: true };

let cwd: string;
const statePath = () => join(cwd, '.authecs', 'ecsauth.json');

function writeState(resources: Record<string, unknown> = { 'user-pool': { created: true, complete: true, data: { userPoolId: POOL_ID, userPoolArn: `arn:aws:cognito-idp:eu-west-1:123456789012:userpool/${POOL_ID}`, name: 'ecsauth_Pool' }, updatedAt: '' } }): void {
  mkdirSync(join(cwd, '.authecs'), { recursive: true });
  writeFileSync(
    statePath(),
    JSON.stringify({ schemaVersion: 2, tool: 'authecs', stack: 'ecsauth', region: 'eu-west-1', createdAt: '', updatedAt: '', settings: { domain: 'www.example.com' }, resources }),
  );
}

interface RunOptions {
  /** Whether stdin / stdout are terminals. */
  stdinIsTerminal?: boolean;
  stdoutIsTerminal?: boolean;
  /** What the person types at the question. */
  answer?: string;
}

/** `authecs <args>` in-process; stdin and stdout are terminals only when asked. */
async function authecs(args: string[], options: RunOptions = {}) {
  const stdout = new PassThrough() as PassThrough & { isTTY?: boolean };
  const stderr = new PassThrough();
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (options.stdoutIsTerminal) stdout.isTTY = true;
  if (options.stdinIsTerminal) stdin.isTTY = true;
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  if (options.answer !== undefined) stdin.write(`${options.answer}\n`);
  else stdin.end();
  const code = await main(args, { cwd, env: { HOME: cwd, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }, stdout, stderr, stdin });
  stdin.end();
  return { code, stdout: out, stderr: err };
}

const sent = <Input extends object>(command: new (input: Input) => unknown): Input[] => cognito.commandCalls(command as never).map((call) => call.args[0].input as Input);
const commandsSent = () => cognito.calls().map((call) => (call.args[0] as object).constructor.name);

beforeEach(() => {
  cognito.reset();
  cwd = mkdtempSync(join(tmpdir(), 'authecs-users-'));
  writeState();
  cognito.on(AdminCreateUserCommand).callsFake((input: AdminCreateUserCommandInput) => ({ User: { Username: 'sub-1111', UserStatus: 'FORCE_CHANGE_PASSWORD', Enabled: true, Attributes: [{ Name: 'email', Value: input.Username }] } }));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('authecs users add', () => {
  it('invites by email: AdminCreateUser with the email as username, verified, delivered by EMAIL', async () => {
    const result = await authecs(['users', 'add', EMAIL]);

    expect(result.code, result.stderr).toBe(0);
    expect(sent(AdminCreateUserCommand)).toEqual([
      {
        UserPoolId: POOL_ID,
        Username: EMAIL,
        UserAttributes: [
          { Name: 'email', Value: EMAIL },
          { Name: 'email_verified', Value: 'true' },
        ],
        DesiredDeliveryMediums: ['EMAIL'],
      },
    ]);
    expect(commandsSent()).toEqual(['AdminCreateUserCommand']);
    expect(result.stdout).toContain(`Invited ${EMAIL} to user pool ${POOL_ID} (stack ecsauth)`);
    expect(result.stdout).toContain('https://www.example.com');
  });

  it('--json gives one document, with no password', async () => {
    const result = await authecs(['--json', 'users', 'add', EMAIL]);

    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(document).toMatchObject({ command: 'users add', ok: true, stack: 'ecsauth', userPoolId: POOL_ID, email: EMAIL, username: 'sub-1111', status: 'FORCE_CHANGE_PASSWORD', invited: true, groups: [], groupsCreated: [] });
    expect(document).not.toHaveProperty('temporaryPassword');
  });

  it('--no-invite at a terminal: no email, a temporary password that meets the pool policy, shown once on the terminal and stored nowhere', async () => {
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID, Policies: { PasswordPolicy: STRICT_POLICY } } });
    const stateBefore = readFileSync(statePath(), 'utf8');

    const result = await authecs(['users', 'add', EMAIL, '--no-invite'], { stdoutIsTerminal: true });

    expect(result.code, result.stderr).toBe(0);
    const [input] = sent(AdminCreateUserCommand);
    const password = input!.TemporaryPassword!;
    expect(input).toEqual({
      UserPoolId: POOL_ID,
      Username: EMAIL,
      UserAttributes: [
        { Name: 'email', Value: EMAIL },
        { Name: 'email_verified', Value: 'true' },
      ],
      MessageAction: 'SUPPRESS',
      TemporaryPassword: password,
    });
    expect(sent(DescribeUserPoolCommand)).toEqual([{ UserPoolId: POOL_ID }]);
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(meetsPasswordPolicy(password, STRICT_POLICY)).toBe(true);
    // Once, on stdout; not in the progress stream, not in the state file.
    expect(result.stdout.split(password)).toHaveLength(2);
    expect(result.stdout).toContain(`Temporary password (shown this once, stored nowhere): ${password}`);
    expect(result.stderr).not.toContain(password);
    expect(readFileSync(statePath(), 'utf8')).toBe(stateBefore);
  });

  it('--no-invite with --json is refused before any AWS call unless --show-password; with it, the JSON carries the password', async () => {
    const refused = await authecs(['--json', 'users', 'add', EMAIL, '--no-invite'], { stdoutIsTerminal: true });
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toContain('PASSWORD_OUTPUT_REFUSED');
    expect(refused.stderr).toContain('--show-password');
    expect(cognito.calls()).toHaveLength(0);

    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID } });
    const shown = await authecs(['--json', 'users', 'add', EMAIL, '--no-invite', '--show-password']);
    expect(shown.code, shown.stderr).toBe(0);
    const password = sent(AdminCreateUserCommand)[0]!.TemporaryPassword!;
    expect(JSON.parse(shown.stdout)).toMatchObject({ command: 'users add', invited: false, temporaryPassword: password });
    // Cognito's default policy applies to a pool that returns none.
    expect(meetsPasswordPolicy(password, undefined)).toBe(true);
    expect(shown.stderr).not.toContain(password);
  });

  it('--no-invite when stdout is a pipe or a file is refused before any AWS call, unless --show-password', async () => {
    const refused = await authecs(['users', 'add', EMAIL, '--no-invite']);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toContain('only at a terminal');
    expect(cognito.calls()).toHaveLength(0);

    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID } });
    const shown = await authecs(['users', 'add', EMAIL, '--no-invite', '--show-password']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(sent(AdminCreateUserCommand)[0]!.TemporaryPassword!);
  });

  it('--group makes a group the pool lacks, before the user, then adds the user to every group', async () => {
    cognito.on(GetGroupCommand, { GroupName: 'admins' }).resolves({ Group: { GroupName: 'admins' } });
    cognito.on(GetGroupCommand, { GroupName: 'staff' }).rejects(new ResourceNotFoundException({ message: 'Group not found.', $metadata: {} }));
    cognito.on(CreateGroupCommand).resolves({ Group: { GroupName: 'staff' } });
    cognito.on(AdminAddUserToGroupCommand).resolves({});

    const result = await authecs(['--json', 'users', 'add', EMAIL, '--group', 'admins', '--group', 'staff', '--group', 'admins']);

    expect(result.code, result.stderr).toBe(0);
    expect(commandsSent()).toEqual(['GetGroupCommand', 'GetGroupCommand', 'CreateGroupCommand', 'AdminCreateUserCommand', 'AdminAddUserToGroupCommand', 'AdminAddUserToGroupCommand']);
    expect(sent(CreateGroupCommand)).toEqual([{ UserPoolId: POOL_ID, GroupName: 'staff' }]);
    expect(sent(AdminAddUserToGroupCommand)).toEqual([
      { UserPoolId: POOL_ID, Username: EMAIL, GroupName: 'admins' },
      { UserPoolId: POOL_ID, Username: EMAIL, GroupName: 'staff' },
    ]);
    expect(JSON.parse(result.stdout)).toMatchObject({ groups: ['admins', 'staff'], groupsCreated: ['staff'] });
  });

  it('still shows the temporary password when adding the new user to a group fails', async () => {
    cognito.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: POOL_ID } });
    cognito.on(GetGroupCommand).resolves({ Group: { GroupName: 'admins' } });
    cognito.on(AdminAddUserToGroupCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));

    const result = await authecs(['users', 'add', EMAIL, '--group', 'admins', '--no-invite'], { stdoutIsTerminal: true });

    expect(result.code).toBe(EXIT_CODES.aws);
    expect(result.stdout).toContain(sent(AdminCreateUserCommand)[0]!.TemporaryPassword!);
    expect(result.stderr).toContain(`User ${EMAIL} was created, but adding it to its groups failed`);
  });

  it('an address that is not an email, or a bad group name, is a usage error before any AWS call', async () => {
    for (const args of [['users', 'add', 'alice'], ['users', 'add', 'alice@example'], ['users', 'add', 'a b@example.com'], ['users', 'add', EMAIL, '--group', 'two words'], ['users', 'remove', 'nobody', '--yes']]) {
      const result = await authecs(args);
      expect(result.code, args.join(' ')).toBe(EXIT_CODES.usage);
    }
    expect((await authecs(['users', 'add'])).code).toBe(EXIT_CODES.usage);
    expect(cognito.calls()).toHaveLength(0);
  });

  it('a user that already exists is a conflict (exit 5) that says what to do', async () => {
    cognito.on(AdminCreateUserCommand).rejects(new UsernameExistsException({ message: 'User account already exists', $metadata: {} }));

    const result = await authecs(['users', 'add', EMAIL]);

    expect(result.code).toBe(EXIT_CODES.conflict);
    expect(result.stderr).toContain(`User ${EMAIL} already exists in user pool ${POOL_ID}`);
    expect(result.stderr).toContain(`authecs users enable ${EMAIL}`);
    expect(result.stderr).toContain(`authecs users remove ${EMAIL}`);
  });
});

describe('authecs users: the stack must have a user pool', () => {
  it('without a state file, or without a user pool in it, exits 6 and points at `authecs up`', async () => {
    rmSync(statePath());
    const none = await authecs(['users', 'list']);
    expect(none.code).toBe(EXIT_CODES.notFound);
    expect(none.stderr).toContain('authecs up');

    writeState({ cluster: { created: true, complete: true, data: { clusterName: 'ecsauth' }, updatedAt: '' } });
    const noPool = await authecs(['users', 'add', EMAIL]);
    expect(noPool.code).toBe(EXIT_CODES.notFound);
    expect(noPool.stderr).toContain('records no user pool');
    expect(noPool.stderr).toContain('authecs up');
    expect(cognito.calls()).toHaveLength(0);
  });

  it('a recorded pool that no longer exists exits 6 too', async () => {
    cognito.on(ListUsersCommand).rejects(new ResourceNotFoundException({ message: 'User pool does not exist.', $metadata: {} }));
    const result = await authecs(['users', 'list']);
    expect(result.code, result.stderr).toBe(EXIT_CODES.notFound);
    expect(result.stderr).toContain(`User pool ${POOL_ID}, recorded in the state file, no longer exists`);
  });
});

describe('authecs users list', () => {
  beforeEach(() => {
    cognito.on(ListUsersCommand).callsFake((input: { PaginationToken?: string }) =>
      input.PaginationToken === undefined
        ? {
            Users: [{ Username: 'sub-b', UserStatus: 'CONFIRMED', Enabled: false, UserCreateDate: new Date('2025-03-02T09:30:00Z'), Attributes: [{ Name: 'email', Value: 'bob@example.com' }] }],
            PaginationToken: 'page-2',
          }
        : { Users: [{ Username: 'sub-a', UserStatus: 'FORCE_CHANGE_PASSWORD', Enabled: true, UserCreateDate: new Date('2025-03-04T12:00:00Z'), Attributes: [{ Name: 'email', Value: EMAIL }] }] },
    );
    cognito.on(AdminListGroupsForUserCommand, { Username: 'sub-a' }).resolves({ Groups: [{ GroupName: 'staff' }, { GroupName: 'admins' }] });
    cognito.on(AdminListGroupsForUserCommand, { Username: 'sub-b' }).resolves({ Groups: [] });
  });

  it('reads every page and each user\'s groups, and prints a table sorted by email', async () => {
    const result = await authecs(['users', 'list']);

    expect(result.code, result.stderr).toBe(0);
    expect(sent(ListUsersCommand).map((input) => input.UserPoolId)).toEqual([POOL_ID, POOL_ID]);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'EMAIL              STATUS                 ENABLED  GROUPS        CREATED',
      'alice@example.com  FORCE_CHANGE_PASSWORD  yes      admins,staff  2025-03-04 12:00Z',
      'bob@example.com    CONFIRMED              no       -             2025-03-02 09:30Z',
    ]);
  });

  it('--json gives {command, ok, users: [{email, username, status, enabled, groups, createdAt}]}', async () => {
    const result = await authecs(['--json', 'users', 'list']);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      command: 'users list',
      ok: true,
      stack: 'ecsauth',
      userPoolId: POOL_ID,
      users: [
        { email: EMAIL, username: 'sub-a', status: 'FORCE_CHANGE_PASSWORD', enabled: true, groups: ['admins', 'staff'], createdAt: '2025-03-04T12:00:00.000Z' },
        { email: 'bob@example.com', username: 'sub-b', status: 'CONFIRMED', enabled: false, groups: [], createdAt: '2025-03-02T09:30:00.000Z' },
      ],
    });
  });

  it('says so when the pool has no users', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    const result = await authecs(['users', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`No users in user pool ${POOL_ID}`);
  });
});

describe('authecs users remove', () => {
  beforeEach(() => {
    cognito.on(AdminDeleteUserCommand).resolves({});
  });

  it('without --yes and without a terminal refuses with exit 2 and deletes nothing', async () => {
    const result = await authecs(['users', 'remove', EMAIL]);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('needs --yes when it is not run at a terminal');
    expect(cognito.calls()).toHaveLength(0);
  });

  it('asks first at a terminal: "n" deletes nothing, "y" deletes', async () => {
    const declined = await authecs(['users', 'remove', EMAIL], { stdinIsTerminal: true, answer: 'n' });
    expect(declined.code, declined.stderr).toBe(0);
    expect(declined.stderr).toContain(`Delete user ${EMAIL} from user pool ${POOL_ID} (stack ecsauth)?`);
    expect(declined.stderr).toContain('Nothing was deleted.');
    expect(cognito.calls()).toHaveLength(0);

    const agreed = await authecs(['users', 'remove', EMAIL], { stdinIsTerminal: true, answer: 'y' });
    expect(agreed.code, agreed.stderr).toBe(0);
    expect(sent(AdminDeleteUserCommand)).toEqual([{ UserPoolId: POOL_ID, Username: EMAIL }]);
  });

  it('--yes deletes without asking, and says that issued sessions outlive it', async () => {
    const result = await authecs(['users', 'remove', EMAIL, '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(sent(AdminDeleteUserCommand)).toEqual([{ UserPoolId: POOL_ID, Username: EMAIL }]);
    expect(result.stdout).toContain(`Deleted user ${EMAIL}`);
    expect(result.stdout).toContain('A session the load balancer already issued stays valid');
  });

  it('an unknown user exits 6 with a hint', async () => {
    cognito.on(AdminDeleteUserCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    const result = await authecs(['users', 'remove', 'nobody@example.com', '--yes']);
    expect(result.code).toBe(EXIT_CODES.notFound);
    expect(result.stderr).toContain(`There is no user nobody@example.com in user pool ${POOL_ID}`);
    expect(result.stderr).toContain('authecs users list');
  });
});

describe('authecs users disable / enable', () => {
  it('AdminDisableUser and AdminEnableUser on the stack\'s pool', async () => {
    cognito.on(AdminDisableUserCommand).resolves({});
    cognito.on(AdminEnableUserCommand).resolves({});

    const disabled = await authecs(['--json', 'users', 'disable', EMAIL]);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ command: 'users disable', ok: true, email: EMAIL, enabled: false });
    const enabled = await authecs(['users', 'enable', EMAIL]);
    expect(enabled.code, enabled.stderr).toBe(0);
    expect(enabled.stdout).toContain(`Enabled user ${EMAIL}`);

    expect(sent(AdminDisableUserCommand)).toEqual([{ UserPoolId: POOL_ID, Username: EMAIL }]);
    expect(sent(AdminEnableUserCommand)).toEqual([{ UserPoolId: POOL_ID, Username: EMAIL }]);
  });

  it('an unknown user exits 6', async () => {
    cognito.on(AdminDisableUserCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    expect((await authecs(['users', 'disable', EMAIL])).code).toBe(EXIT_CODES.notFound);
  });

  it('`users` alone shows help and exits 2', async () => {
    const result = await authecs(['users']);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr + result.stdout).toContain('add');
  });
});

describe('the temporary password', () => {
  it('meets the policy it is made for, whatever the policy requires', () => {
    const policies: (PasswordPolicyType | undefined)[] = [
      undefined,
      { MinimumLength: 6 },
      STRICT_POLICY,
      { MinimumLength: 99, RequireSymbols: true },
      { MinimumLength: 8, RequireUppercase: false, RequireLowercase: false, RequireNumbers: false, RequireSymbols: false },
    ];
    for (const policy of policies) {
      for (let sample = 0; sample < 200; sample += 1) {
        const password = generateTemporaryPassword(policy);
        expect(password.length).toBe(Math.max(TEMPORARY_PASSWORD_LENGTH, policy?.MinimumLength ?? 8));
        expect(meetsPasswordPolicy(password, policy), password).toBe(true);
        // Meets Cognito's strictest class rules too, and stays clear of quotes, backslash and spaces.
        expect(meetsPasswordPolicy(password, { ...STRICT_POLICY, MinimumLength: password.length })).toBe(true);
        expect(password).toMatch(/^[A-Za-z0-9!#%*+\-.=?@^_~]+$/);
      }
    }
  });

  it('is different every time', () => {
    expect(new Set(Array.from({ length: 50 }, () => generateTemporaryPassword(undefined))).size).toBe(50);
  });

  it('meetsPasswordPolicy rejects what Cognito would', () => {
    expect(meetsPasswordPolicy('Short1!', undefined)).toBe(false);
    expect(meetsPasswordPolicy('nouppercase1!', undefined)).toBe(false);
    expect(meetsPasswordPolicy('NoSymbols123', undefined)).toBe(false);
    expect(meetsPasswordPolicy('NoSymbols123', { MinimumLength: 8, RequireSymbols: false, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true })).toBe(true);
    expect(meetsPasswordPolicy('Has1Symbol!', undefined)).toBe(true);
  });
});

describe('the IAM policy for `authecs users`', () => {
  const ACTIONS = ['AdminCreateUser', 'AdminAddUserToGroup', 'CreateGroup', 'GetGroup', 'ListUsers', 'AdminListGroupsForUser', 'AdminDeleteUser', 'AdminDisableUser', 'AdminEnableUser'];

  it('grants each user and group call on the stack\'s user pools only, found by their tag', async () => {
    const { SDK_CALLS } = await import('../../src/iam/actions.js');
    const { policyContextFrom } = await import('../../src/iam/context.js');
    const context = policyContextFrom({ values: { region: 'eu-west-1', cluster: 'ecsauth' }, accountId: '123456789012' });
    for (const action of ACTIONS) {
      const grants = SDK_CALLS.flatMap((call) => call.grants).filter((grant) => grant.action === `cognito-idp:${action}`);
      expect(grants.length, action).toBeGreaterThan(0);
      for (const grant of grants) {
        expect(grant.resources(context), action).toEqual(['arn:aws:cognito-idp:eu-west-1:123456789012:userpool/*']);
        expect(grant.condition?.(context), action).toEqual({ StringEquals: { 'aws:ResourceTag/authecs:stack': 'ecsauth' } });
      }
    }
  });

  it('keeps the tag condition in the policy document', async () => {
    const { buildPolicy } = await import('../../src/iam/policy.js');
    const { policyContextFrom } = await import('../../src/iam/context.js');
    const built = buildPolicy(policyContextFrom({ values: { region: 'eu-west-1', cluster: 'ecsauth' }, accountId: '123456789012' }));
    for (const action of ACTIONS) {
      const statements = built.document.Statement.filter((statement) => statement.Action.includes(`cognito-idp:${action}`));
      expect(statements.length, action).toBeGreaterThan(0);
      for (const statement of statements) {
        expect([statement.Resource].flat(), action).not.toContain('*');
        expect(statement.Condition, action).toEqual({ StringEquals: { 'aws:ResourceTag/authecs:stack': 'ecsauth' } });
      }
    }
  });
});
