/**
 * The order `smoke` runs its checks in, under one overall deadline, and the throwaway user's
 * lifetime around the sign-in: it is deleted whatever the checks found.
 */
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { checkDns, checkHttpRedirect, checkPublicPath, checkSignInGate, checkTls, type ProbeSettings, type SiteFacts, type SmokeCheck } from './checks.js';
import { checkSignIn, createThrowawayUser, deleteStaleThrowawayUsers, deleteThrowawayUser, setPermanentPassword, type ThrowawayUser } from './sign-in.js';

export interface SkippedCheck {
  name: string;
  reason: string;
}

export interface SmokeReport {
  checks: SmokeCheck[];
  skipped: SkippedCheck[];
  /** Only with --sign-in. */
  throwawayUser?: { username: string; deleted: boolean; error?: string; staleDeleted: string[] };
}

export interface SignInSetup {
  cognito: CognitoIdentityProviderClient;
  userPoolId: string;
}

export interface SmokeRun {
  site: SiteFacts;
  probe: Omit<ProbeSettings, 'http'> & { http: Omit<ProbeSettings['http'], 'signal'> };
  /** The whole run's bound; the throwaway user is deleted even after it runs out. */
  totalTimeoutMs: number;
  signIn?: SignInSetup;
  /** Progress lines for people (stderr). */
  progress(message: string): void;
  /** The throwaway user that exists right now (undefined once deleted), for an interrupt to name. */
  onThrowawayUser?(username: string | undefined): void;
}

function errorText(error: unknown): string {
  const { name, message } = error as Error;
  return name && name !== 'Error' ? `${name}: ${message}` : message;
}

export async function runSmoke(run: SmokeRun): Promise<SmokeReport> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), run.totalTimeoutMs);
  const probe: ProbeSettings = { ...run.probe, http: { ...run.probe.http, signal: controller.signal } };
  const report: SmokeReport = { checks: [], skipped: [] };
  const perform = async (name: string, check: () => Promise<SmokeCheck>) => {
    if (controller.signal.aborted) {
      report.checks.push({ name, ok: false, detail: `not run: the overall time limit (${run.totalTimeoutMs / 1000} s) ran out`, seen: {} });
      return;
    }
    run.progress(`checking ${name}`);
    try {
      report.checks.push(await check());
    } catch (error) {
      // A check never throws by design; if one does, it fails alone and the run goes on.
      report.checks.push({ name, ok: false, detail: `the check could not be made: ${errorText(error)}`, seen: { error: errorText(error) } });
    }
  };
  try {
    const { site } = run;
    await perform('dns', () => checkDns(site, probe));
    await perform('tls', () => checkTls(site, probe));
    if (site.httpRedirect) await perform('http-redirect', () => checkHttpRedirect(site, probe));
    else report.skipped.push({ name: 'http-redirect', reason: 'the stack has no HTTP listener (--no-http-redirect)' });
    await perform('sign-in-gate', () => checkSignInGate(site, probe));
    if (site.publicPaths.length === 0) report.skipped.push({ name: 'public-path', reason: 'no public paths are configured' });
    for (const path of site.publicPaths) await perform(`public-path:${path}`, () => checkPublicPath(site, path, probe));
    if (run.signIn) await signInWithThrowawayUser(run, run.signIn, probe, report, controller.signal, perform);
    else report.skipped.push({ name: 'sign-in', reason: 'not asked for (--sign-in signs in with a throwaway user)' });
  } finally {
    clearTimeout(deadline);
  }
  return report;
}

async function signInWithThrowawayUser(
  run: SmokeRun,
  setup: SignInSetup,
  probe: ProbeSettings,
  report: SmokeReport,
  signal: AbortSignal,
  perform: (name: string, check: () => Promise<SmokeCheck>) => Promise<void>,
): Promise<void> {
  const name = 'sign-in';
  let staleDeleted: string[] = [];
  try {
    staleDeleted = await deleteStaleThrowawayUsers(setup.cognito, setup.userPoolId, probe.now());
    if (staleDeleted.length > 0) run.progress(`deleted ${staleDeleted.length} throwaway user(s) an interrupted run left: ${staleDeleted.join(', ')}`);
  } catch (error) {
    // Only housekeeping: the sign-in can still be checked.
    run.progress(`could not look for throwaway users left by earlier runs (${errorText(error)})`);
  }
  if (signal.aborted) {
    report.checks.push({ name, ok: false, detail: `not run: the overall time limit (${run.totalTimeoutMs / 1000} s) ran out`, seen: {} });
    return;
  }
  let user: ThrowawayUser;
  try {
    user = await createThrowawayUser(setup.cognito, setup.userPoolId);
  } catch (error) {
    report.checks.push({ name, ok: false, detail: `could not create the throwaway user in ${setup.userPoolId}: ${errorText(error)}`, seen: { error: errorText(error) } });
    return;
  }
  run.onThrowawayUser?.(user.username);
  run.progress(`created the throwaway user ${user.username}`);
  report.throwawayUser = { username: user.username, deleted: false, staleDeleted };
  try {
    try {
      await setPermanentPassword(setup.cognito, setup.userPoolId, user);
    } catch (error) {
      report.checks.push({ name, ok: false, detail: `could not set the throwaway user's password: ${errorText(error)}`, seen: { username: user.username, error: errorText(error) } });
      return;
    }
    await perform(name, () => checkSignIn(run.site, probe, user));
  } finally {
    try {
      await deleteThrowawayUser(setup.cognito, setup.userPoolId, user.username);
      report.throwawayUser.deleted = true;
      run.onThrowawayUser?.(undefined);
      run.progress(`deleted the throwaway user ${user.username}`);
    } catch (error) {
      report.throwawayUser.error = errorText(error);
      const check = report.checks.find((one) => one.name === name);
      const problem = `the throwaway user ${user.username} could not be deleted (${errorText(error)}); the next smoke --sign-in deletes it once it is an hour old`;
      if (check) Object.assign(check, { ok: false, detail: `${check.detail}; ${problem}` });
      else report.checks.push({ name, ok: false, detail: problem, seen: { username: user.username } });
    }
  }
}
