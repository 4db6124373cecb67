import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { dnsOptionsFromEnv } from '../../doctor/dns.js';
import { AuthecsError, configError, EXIT_CODES, usageError } from '../../errors.js';
import type { SiteFacts, SmokeCheck } from '../../smoke/checks.js';
import type { SkippedCheck, SmokeReport } from '../../smoke/run.js';
import type { AppClientOutput, LoadBalancerOutput, UserPoolDomainOutput, UserPoolOutput } from '../../steps/outputs.js';
import type { StateFile } from '../../state/state-file.js';
import { describeStatePath } from '../io.js';
import type { CommandDefinition } from '../registry.js';

export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 10;
export const DEFAULT_TOTAL_TIMEOUT_SECONDS = 120;
/** A certificate closer than this to its end fails: ACM renews managed certificates from 60 days ahead (ACM guide, "Managed certificate renewal"), so a near end means renewal is stuck. */
export const DEFAULT_MIN_CERT_DAYS = 14;

interface SmokeOptions {
  signIn?: boolean;
  url?: string;
  httpUrl?: string;
  caFile?: string;
  timeout?: string;
  totalTimeout?: string;
  minCertDays?: string;
}

function numberOption(flag: string, raw: string | undefined, fallback: number, { min, max, integer }: { min: number; max: number; integer?: boolean }): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw configError(flag, `"${raw}" must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`, `Pass e.g. ${flag} ${fallback}.`);
  }
  return value;
}

function baseUrl(flag: string, raw: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw configError(flag, `"${raw}" is not a URL`, `Pass a base URL such as ${protocols[0]}//127.0.0.1:8443.`);
  }
  if (!protocols.includes(url.protocol)) throw configError(flag, `"${raw}" must be ${protocols.map((protocol) => protocol.replace(':', '')).join(' or ')}`, `Pass a base URL such as ${protocols[0]}//127.0.0.1:8443.`);
  return url;
}

function outputOf<Data extends object>(state: StateFile, step: string, what: string): Data {
  const data = state.get<Data>(step)?.data;
  if (!data) {
    throw new AuthecsError(`The state file ${state.path} has no ${what}: the stack is not fully up, so there is no site to check`, {
      code: 'STATE_INCOMPLETE',
      exit: 'notFound',
      hint: 'Run `authecs up` until it succeeds, then `authecs smoke`.',
    });
  }
  return data;
}

const SYMBOL = { pass: '✔ pass', fail: '✖ fail', skip: '↷ skip' } as const;

function lines(checks: SmokeCheck[], skipped: SkippedCheck[]): string[] {
  const rows: [string, string, string][] = [
    ...checks.map((check): [string, string, string] => [check.ok ? SYMBOL.pass : SYMBOL.fail, check.name, check.detail]),
    ...skipped.map((skip): [string, string, string] => [SYMBOL.skip, skip.name, skip.reason]),
  ];
  const width = Math.max(...rows.map(([, name]) => name.length));
  return rows.map(([symbol, name, detail]) => `${symbol}  ${name.padEnd(width)}  ${detail}`);
}

export const smokeCommand: CommandDefinition = {
  name: 'smoke',
  summary: 'check the live site from outside, as a visitor meets it: DNS, TLS certificate, HTTP to HTTPS, the sign-in gate, public paths and (--sign-in) a whole sign-in (exit 0 only when every check passed)',
  configure(command: Command) {
    command
      .option('--sign-in', 'also sign in through the hosted UI with a throwaway user (made with AdminCreateUser, deleted at the end)')
      .option('--url <base>', 'probe this HTTPS base URL (e.g. the ALB, or https://127.0.0.1:8443) instead of https://DOMAIN, still sending the domain as Host and TLS server name')
      .option('--http-url <base>', 'probe this base URL for the HTTP to HTTPS redirect (default: http://DOMAIN, or --url\'s host on port 80)')
      .option('--ca-file <pem>', 'also trust the CA certificates in this PEM file (a test or private CA)')
      .option('--timeout <seconds>', `bound on each request and DNS lookup (default ${DEFAULT_REQUEST_TIMEOUT_SECONDS})`)
      .option('--total-timeout <seconds>', `bound on the whole run (default ${DEFAULT_TOTAL_TIMEOUT_SECONDS}); the throwaway user is deleted even after it`)
      .option('--min-cert-days <days>', `fail when the certificate expires within this many days (default ${DEFAULT_MIN_CERT_DAYS})`);
    command.addHelpText(
      'after',
      `\nReads the site from the state file. Each check prints pass or fail with what it saw. Exit ${EXIT_CODES.success} when every check passed, ${EXIT_CODES.smokeFailed} (smokeFailed) when one failed.\n`,
    );
  },
  async run({ command, reporter, io, onInterrupt }) {
    const options = command.opts() as SmokeOptions;
    const timeoutMs = numberOption('--timeout', options.timeout, DEFAULT_REQUEST_TIMEOUT_SECONDS, { min: 0.1, max: 300 }) * 1000;
    const totalTimeoutMs = numberOption('--total-timeout', options.totalTimeout, DEFAULT_TOTAL_TIMEOUT_SECONDS, { min: 1, max: 3600 }) * 1000;
    const minCertDays = numberOption('--min-cert-days', options.minCertDays, DEFAULT_MIN_CERT_DAYS, { min: 0, max: 365, integer: true });
    let extraCa: string | undefined;
    if (options.caFile) {
      try {
        extraCa = readFileSync(resolve(io.cwd, options.caFile), 'utf8');
      } catch (error) {
        throw usageError(`Cannot read --ca-file ${options.caFile}: ${(error as Error).message}`, 'Pass a PEM file of CA certificates.');
      }
    }
    const siteBase = options.url ? baseUrl('--url', options.url, ['https:']) : undefined;
    const httpBase = options.httpUrl ? baseUrl('--http-url', options.httpUrl, ['http:']) : undefined;
    // Test-only: where requests to the hosted UI go (a loopback stand-in).
    const cognitoBase = io.env.AUTHECS_SMOKE_COGNITO_URL ? baseUrl('AUTHECS_SMOKE_COGNITO_URL', io.env.AUTHECS_SMOKE_COGNITO_URL, ['https:', 'http:']) : undefined;

    const [{ openStateSession }, { runSmoke }] = await Promise.all([import('../session.js'), import('../../smoke/run.js')]);
    const session = await openStateSession(command, reporter, io, undefined);
    if (!session) {
      throw new AuthecsError(`No state file at ${describeStatePath(command, io)}: nothing has been deployed with these settings`, {
        code: 'STATE_MISSING',
        exit: 'notFound',
        hint: 'Run `authecs up` first, or pass --state / --cluster to point at an existing state file.',
      });
    }
    let pendingUser: string | undefined;
    onInterrupt(() => {
      if (pendingUser) reporter.warn(`the throwaway user ${pendingUser} was not deleted; the next \`authecs smoke --sign-in\` deletes it once it is an hour old`);
      session.close();
    });
    try {
      const { config } = session.environment;
      const { state } = session;
      const loadBalancer = outputOf<LoadBalancerOutput>(state, 'load-balancer', 'load balancer');
      const poolDomain = outputOf<UserPoolDomainOutput>(state, 'user-pool-domain', 'Cognito domain');
      const appClient = outputOf<AppClientOutput>(state, 'app-client', 'app client');
      const site: SiteFacts = {
        domain: config.domain,
        loadBalancerDnsName: loadBalancer.dnsName,
        hostedUiBaseUrl: poolDomain.hostedUiBaseUrl,
        clientId: appClient.clientId,
        scope: config.scope,
        sessionCookieName: config.sessionCookieName,
        publicPaths: config.publicPaths,
        httpRedirect: config.httpRedirect,
      };
      const siteUrl = siteBase ?? new URL(`https://${site.domain}`);
      const httpUrl = httpBase ?? new URL(`http://${siteBase ? siteBase.hostname : site.domain}`);
      const connectTo = new Map<string, URL>([[`https://${site.domain}`, siteUrl]]);
      if (cognitoBase) connectTo.set(new URL(site.hostedUiBaseUrl).origin, cognitoBase);
      const userPoolId = options.signIn ? outputOf<UserPoolOutput>(state, 'user-pool', 'user pool').userPoolId : undefined;

      reporter.info(`authecs smoke: https://${site.domain} (stack ${config.cluster}, ${config.region})${siteBase ? ` via ${siteBase.origin}` : ''}`);
      const report: SmokeReport = await runSmoke({
        site,
        probe: {
          siteUrl,
          httpUrl,
          dns: dnsOptionsFromEnv(io.env, timeoutMs),
          minCertDays,
          now: io.now ?? Date.now,
          http: { connectTo, timeoutMs, ...(extraCa ? { extraCa } : {}) },
        },
        totalTimeoutMs,
        ...(userPoolId ? { signIn: { cognito: session.clients.cognito, userPoolId } } : {}),
        progress: (message) => (message.startsWith('checking ') ? reporter.debug(message) : reporter.info(message)),
        onThrowawayUser: (username) => (pendingUser = username),
      });
      const failed = report.checks.filter((check) => !check.ok);
      const ok = failed.length === 0;
      reporter.result(
        {
          command: 'smoke',
          ok,
          stack: config.cluster,
          region: config.region,
          domain: site.domain,
          url: siteUrl.origin,
          checks: report.checks,
          skipped: report.skipped,
          ...(report.throwawayUser ? { throwawayUser: report.throwawayUser } : {}),
        },
        [
          ...lines(report.checks, report.skipped),
          '',
          ok
            ? `Smoke test passed: ${report.checks.length} check${report.checks.length === 1 ? '' : 's'} passed.`
            : `Smoke test failed: ${failed.length} of ${report.checks.length} checks failed (${failed.map((check) => check.name).join(', ')}).`,
        ],
      );
      return ok ? EXIT_CODES.success : EXIT_CODES.smokeFailed;
    } finally {
      session.close();
    }
  },
};
