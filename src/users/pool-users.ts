/**
 * The people who may sign in: users and groups of the stack's user pool, and nothing else.
 * Every call names the pool the state file records, so `authecs users` cannot reach another pool.
 */
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  CreateGroupCommand,
  DescribeUserPoolCommand,
  GetGroupCommand,
  paginateAdminListGroupsForUser,
  paginateListUsers,
  type AdminCreateUserCommandInput,
  type CognitoIdentityProviderClient,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError, usageError } from '../errors.js';
import { generateTemporaryPassword } from './temporary-password.js';

const PAGE_SIZE = 60;
// Cognito's Username is 1-128 characters; the email is the username in the stack's pool.
const MAX_EMAIL_LENGTH = 128;
// Cognito's GroupName: 1-128 letters, marks, symbols, numbers or punctuation (API reference, CreateGroup).
const GROUP_NAME = /^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u;

export interface PoolUser {
  email: string | undefined;
  /** Cognito's username: the user's sub, as the pool signs users in by email. */
  username: string;
  /** FORCE_CHANGE_PASSWORD until the first sign-in, then CONFIRMED (or RESET_REQUIRED…). */
  status: string;
  enabled: boolean;
  groups: string[];
  createdAt: string | undefined;
}

export interface AddUserOptions {
  userPoolId: string;
  email: string;
  groups: string[];
  /** false: no invitation email; a temporary password is generated and returned to be shown once. */
  invite: boolean;
}

export interface AddedUser {
  email: string;
  username: string;
  status: string;
  groups: string[];
  groupsCreated: string[];
  /** Only without an invitation: the caller shows it once and keeps it nowhere. */
  temporaryPassword?: string;
}

/** A plausible email address (something@domain.tld), short enough to be a Cognito username. */
export function checkEmail(email: string): string {
  const trimmed = email.trim();
  if (trimmed.length > MAX_EMAIL_LENGTH || !/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(trimmed)) {
    throw usageError(`"${email}" is not an email address`, 'Give the address the person signs in with, e.g. `authecs users add alice@example.com`.');
  }
  return trimmed;
}

export function checkGroupName(group: string): string {
  if (!GROUP_NAME.test(group)) {
    throw usageError(`"${group}" is not a group name`, 'A group name is 1-128 letters, digits, symbols or punctuation, with no spaces, e.g. --group admins.');
  }
  return group;
}

/** AWS errors about one user, as what the person running authecs can do about them. */
function userError(error: unknown, email: string, userPoolId: string): unknown {
  if (hasErrorCode(error, 'UserNotFoundException')) {
    return new AuthecsError(`There is no user ${email} in user pool ${userPoolId}`, {
      code: 'USER_NOT_FOUND',
      exit: 'notFound',
      resource: email,
      cause: error,
      hint: '`authecs users list` shows the users of the stack\'s pool.',
    });
  }
  if (hasErrorCode(error, 'UsernameExistsException', 'AliasExistsException')) {
    return new AuthecsError(`User ${email} already exists in user pool ${userPoolId}`, {
      code: 'USER_EXISTS',
      exit: 'conflict',
      resource: email,
      cause: error,
      hint: `\`authecs users list\` shows its status. If it is disabled, \`authecs users enable ${email}\`; to start again with a new invitation, \`authecs users remove ${email}\`, then add it again.`,
    });
  }
  if (hasErrorCode(error, 'ResourceNotFoundException')) return poolGone(userPoolId, error);
  return error;
}

function poolGone(userPoolId: string, cause: unknown): AuthecsError {
  return new AuthecsError(`User pool ${userPoolId}, recorded in the state file, no longer exists`, {
    code: 'USER_POOL_MISSING',
    exit: 'notFound',
    resource: userPoolId,
    cause,
    hint: 'Run `authecs up` to make the stack\'s user pool again (its users are not restored).',
  });
}

async function groupExists(client: CognitoIdentityProviderClient, userPoolId: string, group: string): Promise<boolean> {
  try {
    await client.send(new GetGroupCommand({ UserPoolId: userPoolId, GroupName: group }));
    return true;
  } catch (error) {
    // GetGroup's ResourceNotFoundException is the group's; a missing pool fails CreateGroup next.
    if (hasErrorCode(error, 'ResourceNotFoundException')) return false;
    throw error;
  }
}

/** Makes the groups the pool lacks; they live in the pool, so `down` deletes them with it. */
async function ensureGroups(client: CognitoIdentityProviderClient, userPoolId: string, groups: string[]): Promise<string[]> {
  const created: string[] = [];
  for (const group of groups) {
    if (await groupExists(client, userPoolId, group)) continue;
    try {
      await client.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: group }));
      created.push(group);
    } catch (error) {
      // Made by someone else since GetGroup: it is there, which is all that is needed.
      if (hasErrorCode(error, 'ResourceNotFoundException')) throw poolGone(userPoolId, error);
      if (!hasErrorCode(error, 'GroupExistsException')) throw error;
    }
  }
  return created;
}

async function passwordPolicyOf(client: CognitoIdentityProviderClient, userPoolId: string) {
  try {
    return (await client.send(new DescribeUserPoolCommand({ UserPoolId: userPoolId }))).UserPool?.Policies?.PasswordPolicy;
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) throw poolGone(userPoolId, error);
    throw error;
  }
}

/**
 * AdminCreateUser with the email as the username (the pool signs in by email) and marked
 * verified, since the invitation goes to that address. Groups are made first, so that a failure
 * there leaves no user behind whose temporary password was never shown.
 */
export async function addUser(client: CognitoIdentityProviderClient, options: AddUserOptions, onCreated?: (user: AddedUser) => void): Promise<AddedUser> {
  const { userPoolId, email, groups, invite } = options;
  const temporaryPassword = invite ? undefined : generateTemporaryPassword(await passwordPolicyOf(client, userPoolId));
  const groupsCreated = await ensureGroups(client, userPoolId, groups);
  const input: AdminCreateUserCommandInput = {
    UserPoolId: userPoolId,
    Username: email,
    UserAttributes: [
      { Name: 'email', Value: email },
      { Name: 'email_verified', Value: 'true' },
    ],
    ...(temporaryPassword === undefined ? { DesiredDeliveryMediums: ['EMAIL'] } : { MessageAction: 'SUPPRESS', TemporaryPassword: temporaryPassword }),
  };
  let created: UserType | undefined;
  try {
    created = (await client.send(new AdminCreateUserCommand(input))).User;
  } catch (error) {
    throw userError(error, email, userPoolId);
  }
  const user: AddedUser = {
    email,
    username: created?.Username ?? email,
    status: created?.UserStatus ?? 'FORCE_CHANGE_PASSWORD',
    groups,
    groupsCreated,
    ...(temporaryPassword === undefined ? {} : { temporaryPassword }),
  };
  const joined: string[] = [];
  try {
    for (const group of groups) {
      await client.send(new AdminAddUserToGroupCommand({ UserPoolId: userPoolId, Username: email, GroupName: group }));
      joined.push(group);
    }
  } catch (error) {
    // The user exists now: its password must still reach the person before the error does.
    onCreated?.({ ...user, groups: joined });
    throw new AuthecsError(`User ${email} was created, but adding it to its groups failed: ${(error as Error).message}`, {
      code: 'USER_GROUPS_FAILED',
      exit: 'aws',
      resource: email,
      cause: error,
      hint: `Fix the cause, then \`authecs users remove ${email} --yes\` and add it again (or add it to the groups in the Cognito console).`,
    });
  }
  return user;
}

function attribute(user: UserType, name: string): string | undefined {
  return user.Attributes?.find((entry) => entry.Name === name)?.Value;
}

async function groupsOf(client: CognitoIdentityProviderClient, userPoolId: string, username: string): Promise<string[]> {
  const groups: string[] = [];
  for await (const page of paginateAdminListGroupsForUser({ client, pageSize: PAGE_SIZE }, { UserPoolId: userPoolId, Username: username, Limit: PAGE_SIZE })) {
    for (const group of page.Groups ?? []) if (group.GroupName) groups.push(group.GroupName);
  }
  return groups.sort();
}

/** Every user of the pool with their groups, sorted by email. One AdminListGroupsForUser per user. */
export async function listUsers(client: CognitoIdentityProviderClient, userPoolId: string): Promise<PoolUser[]> {
  const users: PoolUser[] = [];
  try {
    for await (const page of paginateListUsers({ client, pageSize: PAGE_SIZE }, { UserPoolId: userPoolId, Limit: PAGE_SIZE })) {
      for (const user of page.Users ?? []) {
        const username = user.Username ?? '';
        users.push({
          email: attribute(user, 'email'),
          username,
          status: user.UserStatus ?? 'UNKNOWN',
          enabled: user.Enabled !== false,
          groups: await groupsOf(client, userPoolId, username),
          createdAt: user.UserCreateDate?.toISOString(),
        });
      }
    }
  } catch (error) {
    if (hasErrorCode(error, 'ResourceNotFoundException')) throw poolGone(userPoolId, error);
    throw error;
  }
  return users.sort((left, right) => (left.email ?? left.username).localeCompare(right.email ?? right.username));
}

export async function removeUser(client: CognitoIdentityProviderClient, userPoolId: string, email: string): Promise<void> {
  try {
    await client.send(new AdminDeleteUserCommand({ UserPoolId: userPoolId, Username: email }));
  } catch (error) {
    throw userError(error, email, userPoolId);
  }
}

/** AdminEnableUser / AdminDisableUser; either is a no-op on a user already in that state. */
export async function setUserEnabled(client: CognitoIdentityProviderClient, userPoolId: string, email: string, enabled: boolean): Promise<void> {
  try {
    await client.send(enabled ? new AdminEnableUserCommand({ UserPoolId: userPoolId, Username: email }) : new AdminDisableUserCommand({ UserPoolId: userPoolId, Username: email }));
  } catch (error) {
    throw userError(error, email, userPoolId);
  }
}
