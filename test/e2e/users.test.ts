/**
 * Issue 11: `authecs users` against moto. After `up`, a user is added without an invitation into a
 * group the pool lacks, listed, disabled, enabled and removed; `remove` without --yes and without
 * a terminal refuses; the temporary password never reaches the state file; `down` takes the pool,
 * its users and its groups.
 */
import { readFileSync } from 'node:fs';
import { AdminGetUserCommand, ListGroupsCommand, ListUserPoolsCommand } from '@aws-sdk/client-cognito-identity-provider';
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

const EMAIL = 'a@example.com';

interface ListedUser {
  email: string;
  username: string;
  status: string;
  enabled: boolean;
  groups: string[];
  createdAt: string;
}

describe.skipIf(skipE2e)('authecs users: add, list, disable, enable, remove', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let userPoolId = '';

  async function listed(): Promise<ListedUser[]> {
    const run = await e2e.authecs(['users', 'list', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json).toMatchObject({ command: 'users list', ok: true, userPoolId });
    return run.json!.users as ListedUser[];
  }

  it('up', { timeout: 120_000 }, async () => {
    baseline = await snapshot(e2e.clients);
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const state = JSON.parse(readFileSync(e2e.statePath(), 'utf8')) as { resources: { 'user-pool': { data: { userPoolId: string } } } };
    userPoolId = state.resources['user-pool'].data.userPoolId;
    expect(userPoolId).toMatch(/^eu-west-1_/);
  });

  it('users add --no-invite refuses to print the password into a pipe, and creates nothing', async () => {
    const run = await e2e.authecs(['users', 'add', EMAIL, '--group', 'admins', '--no-invite']);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('--show-password');
    expect(await listed()).toEqual([]);
    const groups = await e2e.clients.cognito.send(new ListGroupsCommand({ UserPoolId: userPoolId }));
    expect(groups.Groups ?? []).toEqual([]);
  });

  it('users add a@example.com --group admins --no-invite --show-password makes the group and the user', async () => {
    const stateBefore = readFileSync(e2e.statePath(), 'utf8');
    const run = await e2e.authecs(['users', 'add', EMAIL, '--group', 'admins', '--no-invite', '--show-password']);
    expect(run.code, describeRun(run)).toBe(0);
    const password = /Temporary password \(shown this once, stored nowhere\): (\S+)/.exec(run.stdout)?.[1];
    expect(password, run.stdout).toBeDefined();
    expect(run.stdout).toContain('Created group admins.');
    // Printed for the person, kept nowhere: not in the state file, not in the progress stream.
    expect(readFileSync(e2e.statePath(), 'utf8')).toBe(stateBefore);
    expect(run.stderr).not.toContain(password!);
    const user = await e2e.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: EMAIL }));
    expect(user.UserStatus).toBe('FORCE_CHANGE_PASSWORD');
    expect(user.UserAttributes).toEqual(expect.arrayContaining([{ Name: 'email', Value: EMAIL }, { Name: 'email_verified', Value: 'true' }]));
  });

  it('users add of the same email again is a conflict (exit 5)', async () => {
    const run = await e2e.authecs(['users', 'add', EMAIL, '--json']);
    expect(run.code, describeRun(run)).toBe(5);
    expect(run.events.find((event) => event.type === 'error')).toMatchObject({ code: 'USER_EXISTS' });
  });

  it('users list --json shows the user in admins, enabled, waiting for a new password', async () => {
    const users = await listed();
    expect(users).toEqual([{ email: EMAIL, username: expect.any(String), status: 'FORCE_CHANGE_PASSWORD', enabled: true, groups: ['admins'], createdAt: expect.any(String) }]);
    const human = await e2e.authecs(['users', 'list']);
    expect(human.code, describeRun(human)).toBe(0);
    expect(human.stdout).toMatch(/a@example\.com\s+FORCE_CHANGE_PASSWORD\s+yes\s+admins/);
  });

  it('users disable, then list shows enabled false; users enable turns it back', async () => {
    const disabled = await e2e.authecs(['users', 'disable', EMAIL]);
    expect(disabled.code, describeRun(disabled)).toBe(0);
    expect((await listed())[0]).toMatchObject({ email: EMAIL, enabled: false });
    const enabled = await e2e.authecs(['users', 'enable', EMAIL]);
    expect(enabled.code, describeRun(enabled)).toBe(0);
    expect((await listed())[0]).toMatchObject({ email: EMAIL, enabled: true });
  });

  it('users remove without --yes and without a terminal exits 2, and the user is still there', async () => {
    const run = await e2e.authecs(['users', 'remove', EMAIL]);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr).toContain('needs --yes');
    expect((await listed()).map((user) => user.email)).toEqual([EMAIL]);
  });

  it('users remove --yes deletes it; the list is empty; removing it again exits 6', async () => {
    const run = await e2e.authecs(['users', 'remove', EMAIL, '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json).toMatchObject({ command: 'users remove', ok: true, email: EMAIL });
    expect(await listed()).toEqual([]);
    const again = await e2e.authecs(['users', 'remove', EMAIL, '--yes']);
    expect(again.code, describeRun(again)).toBe(6);
  });

  it('down --yes takes the pool with its groups; users then has no pool to work on (exit 6)', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    await e2e.standIn.settle();
    const pools = await e2e.clients.cognito.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    expect((pools.UserPools ?? []).map((pool) => pool.Id)).not.toContain(userPoolId);
    expect(await snapshot(e2e.clients)).toEqual(baseline);
    const after = await e2e.authecs(['users', 'list']);
    expect(after.code, describeRun(after)).toBe(6);
    expect(after.stderr).toContain('authecs up');
  });
});
