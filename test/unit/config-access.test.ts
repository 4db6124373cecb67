import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flagsFrom } from '../../src/cli/io.js';
import { addStackSettingOptions } from '../../src/cli/settings-options.js';
import { loadUpConfig } from '../../src/config/load.js';
import { exposesWholeSite, signOutUrlOf } from '../../src/config/schema.js';

/** Who gets in (issue 11): --sign-up, --session-timeout, --sign-out-url, --public-path, --allowed-groups. */
describe('access settings', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'authecs-access-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  const env = { AWS_REGION: 'eu-west-1', AUTH_ECS_DOMAIN: 'www.example.com' };
  const load = (flags: Record<string, unknown>, extraEnv: Record<string, string> = {}) => loadUpConfig({ flags, env: { ...env, ...extraEnv }, cwd });
  const refusal = (flags: Record<string, unknown>, extraEnv: Record<string, string> = {}): { code: string; exit: string; message: string; hint: string } => {
    try {
      load(flags, extraEnv);
    } catch (error) {
      return error as { code: string; exit: string; message: string; hint: string };
    }
    throw new Error('expected the settings to be refused');
  };

  it('defaults: invite-only, the ALB\'s 7-day session, https://<domain>/signed-out, no public path, no groups', () => {
    const config = load({});
    expect(config).toMatchObject({ signUp: 'invite-only', sessionTimeoutSeconds: 604800, publicPaths: [], allowedGroups: [] });
    expect(signOutUrlOf(config)).toBe('https://www.example.com/signed-out');
    // The default follows the domain, as it is derived rather than recorded.
    expect(signOutUrlOf(load({ domain: 'App.Example.com' }))).toBe('https://app.example.com/signed-out');
    expect(signOutUrlOf(load({ signOutUrl: 'http://localhost:8080/bye' }))).toBe('http://localhost:8080/bye');
  });

  it('reads them from the environment: AUTH_ECS_SIGN_UP, AUTH_ECS_SESSION_TIMEOUT, AUTH_ECS_PUBLIC_PATHS and AUTH_ECS_ALLOWED_GROUPS comma-separated', () => {
    const config = load({}, { AUTH_ECS_SIGN_UP: 'open', AUTH_ECS_SESSION_TIMEOUT: '3600', AUTH_ECS_PUBLIC_PATHS: '/signed-out, /assets/*', AUTH_ECS_ALLOWED_GROUPS: 'admins,staff', AUTH_ECS_SIGN_OUT_URL: 'https://www.example.com/bye' });
    expect(config).toMatchObject({ signUp: 'open', sessionTimeoutSeconds: 3600, publicPaths: ['/signed-out', '/assets/*'], allowedGroups: ['admins', 'staff'], signOutUrl: 'https://www.example.com/bye' });
  });

  it('--public-path repeats (each may be a comma list) and --no-public-path clears the recorded list', () => {
    const command = new Command('up').exitOverride();
    addStackSettingOptions(command);
    command.parse(['--public-path', '/signed-out', '--public-path', '/assets/*,/health', '--allowed-groups', 'admins,staff'], { from: 'user' });
    const flags = flagsFrom(command);
    expect(load(flags)).toMatchObject({ publicPaths: ['/signed-out', '/assets/*', '/health'], allowedGroups: ['admins', 'staff'] });

    const clearing = new Command('up').exitOverride();
    addStackSettingOptions(clearing);
    clearing.parse(['--no-public-path'], { from: 'user' });
    expect(load(flagsFrom(clearing)).publicPaths).toEqual([]);
  });

  it.each([['/*'], ['*'], ['/**'], ['/?*'], ['/*?']])('refuses the public path %s: it would bypass sign-in for every page', (path) => {
    expect(exposesWholeSite(path)).toBe(true);
    const error = refusal({ publicPaths: [path] });
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', exit: 'usage' });
    expect(error.message).toMatch(/--public-path.*every page without sign-in.*--sign-up open or invite users/);
  });

  it('accepts paths that expose part of the site only', () => {
    for (const path of ['/signed-out', '/assets/*', '/api/v?/status', "/a-b_c.$~\"'@:+&/x"]) expect(exposesWholeSite(path)).toBe(false);
    expect(load({ publicPaths: ['/assets/*', '/signed-out'] }).publicPaths).toEqual(['/assets/*', '/signed-out']);
  });

  it.each([
    ['a path without a leading /', ['assets/*'], /--public-path.*must be paths starting with \//],
    ['a path with a space', ['/my page'], /--public-path.*must be paths/],
    ['a path over 128 characters', [`/${'a'.repeat(128)}`], /--public-path.*at most 128/],
    // "Condition values per rule: 5" (ELB quotas): the host name takes one.
    ['5 paths', ['/a', '/b', '/c', '/d', '/e'], /--public-path.*more than 4 paths.*5 condition values/],
    // "Condition wildcards per rule: 5" (ELB quotas).
    ['6 wildcards', ['/a/*/*/*', '/b/*?/*'], /--public-path.*more than 5 wildcards/],
  ])('refuses %s', (_what, publicPaths, message) => {
    expect(refusal({ publicPaths }).message).toMatch(message);
  });

  it('refuses --public-path with --rule-priority 1: the public rule needs the priority just before the host rule', () => {
    const error = refusal({ publicPaths: ['/signed-out'], rulePriority: '1' });
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', exit: 'usage' });
    expect(error.message).toContain('--public-path with --rule-priority');
    expect(error.hint).toContain('--rule-priority 2');
    expect(load({ publicPaths: ['/signed-out'], rulePriority: '2' }).rulePriority).toBe(2);
    expect(load({ rulePriority: '1' }).rulePriority).toBe(1);
  });

  it.each([
    ['another sign-up mode', { signUp: 'maybe' }, /--sign-up.*invite-only or open/],
    ['a session timeout of 0', { sessionTimeoutSeconds: '0' }, /--session-timeout/],
    ['a session timeout over 7 days (604800 s)', { sessionTimeoutSeconds: '604801' }, /--session-timeout/],
    ['a plain-http sign-out URL', { signOutUrl: 'http://www.example.com/bye' }, /--sign-out-url.*https:\/\//],
    ['a sign-out URL with a fragment', { signOutUrl: 'https://www.example.com/bye#now' }, /--sign-out-url.*fragment/],
    ['a sign-out URL that is not a URL', { signOutUrl: 'www.example.com/bye' }, /--sign-out-url/],
    ['a group name with a space', { allowedGroups: 'site admins' }, /--allowed-groups.*Cognito group names/],
  ])('refuses %s, naming the setting', (_what, flags, message) => {
    const error = refusal(flags);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', exit: 'usage' });
    expect(error.message).toMatch(message);
  });

  it('refuses an AUTHECS_ALLOWED_GROUPS of the user\'s own (--env or --secret): authecs sets it from --allowed-groups', () => {
    expect(refusal({ environment: ['AUTHECS_ALLOWED_GROUPS=admins'] }).message).toMatch(/--env AUTHECS_ALLOWED_GROUPS.*set by authecs from --allowed-groups/);
    expect(refusal({ secrets: ['AUTHECS_ALLOWED_GROUPS=arn:aws:ssm:eu-west-1:123456789012:parameter/groups'] }).message).toMatch(/--secret AUTHECS_ALLOWED_GROUPS/);
  });
});
