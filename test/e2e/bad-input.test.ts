/**
 * Bad input against a live endpoint: each fails with a clear message and its documented exit
 * code, and nothing is created. "Nothing" is checked against a snapshot of moto taken before the
 * run, so a step that ran in parallel and created something before the failure is caught.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CreateLoadBalancerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { describeRun, type RunResult } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { snapshot } from '../support/inventory.js';
import { freePort, skipE2e } from '../support/moto.js';

const EXIT = { conflict: 5, notFound: 6, state: 8, endpoint: 10 } as const;

function errorEvent(run: RunResult): { code?: string; message?: string; hint?: string; exitCode?: number } | undefined {
  return run.events.find((event) => event.type === 'error');
}

describe.skipIf(skipE2e)('bad input against a live endpoint', () => {
  const e2e = setupE2e();

  it('a domain with no hosted zone: exit 6, HOSTED_ZONE_NOT_FOUND, nothing created', async () => {
    const before = await snapshot(e2e.clients);
    const run = await e2e.authecs(['up', '--json', '--domain', 'www.nozone.test']);
    expect(run.code, describeRun(run)).toBe(EXIT.notFound);
    const error = errorEvent(run);
    expect(error, describeRun(run)).toMatchObject({ code: 'HOSTED_ZONE_NOT_FOUND', exitCode: EXIT.notFound });
    expect(error?.message).toContain('nozone.test');
    expect(error?.hint).toBeTruthy();
    expect(run.stdout.trim(), 'no result document on failure').toBe('');
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients), `moto after a failed up:\n${describeRun(run)}`).toEqual(before);
  });

  it('an ALB name taken by a load balancer authecs did not create: exit 5, nothing created', async () => {
    await e2e.clients.elbv2.send(
      new CreateLoadBalancerCommand({ Name: 'ecsauth', Subnets: e2e.fixtures.publicSubnets, SecurityGroups: [e2e.fixtures.securityGroupId], Scheme: 'internet-facing' }),
    );
    const before = await snapshot(e2e.clients);
    const run = await e2e.authecs(['up', '--json']);
    expect(run.code, describeRun(run)).toBe(EXIT.conflict);
    const error = errorEvent(run);
    expect(error, describeRun(run)).toMatchObject({ code: 'LOAD_BALANCER_NAME_TAKEN', exitCode: EXIT.conflict });
    expect(error?.message).toContain('ecsauth');
    expect(error?.hint).toMatch(/--load-balancer-name/);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients), `moto after a failed up:\n${describeRun(run)}`).toEqual(before);
  });

  it('a wrong endpoint URL (a closed loopback port): exit 10, nothing created', { timeout: 150_000 }, async () => {
    const before = await snapshot(e2e.clients);
    const closedPort = await freePort();
    const run = await e2e.authecs(['up', '--json', '--endpoint-url', `http://127.0.0.1:${closedPort}`], { timeoutMs: 140_000 });
    expect(run.code, describeRun(run)).toBe(EXIT.endpoint);
    const error = errorEvent(run);
    expect(error, describeRun(run)).toMatchObject({ code: 'ENDPOINT_UNREACHABLE', exitCode: EXIT.endpoint });
    expect(error?.message).toContain(`127.0.0.1:${closedPort}`);
    process.stderr.write(`bad-input: up against a closed port gave up after ${run.wallMs} ms\n`);
    expect(await snapshot(e2e.clients)).toEqual(before);
  });

  it('a corrupt state file: exit 8 for up, status and down, nothing created', async () => {
    const before = await snapshot(e2e.clients);
    mkdirSync(dirname(e2e.statePath()), { recursive: true });
    writeFileSync(e2e.statePath(), '{"tool": "authecs", "resources": {', { mode: 0o600 });
    for (const args of [['up', '--json'], ['status', '--json'], ['down', '--yes', '--json']]) {
      const run = await e2e.authecs(args);
      expect(run.code, describeRun(run)).toBe(EXIT.state);
      const error = errorEvent(run);
      expect(error, describeRun(run)).toMatchObject({ code: 'STATE_CORRUPT', exitCode: EXIT.state });
      expect(error?.message).toContain(e2e.statePath());
    }
    expect(await snapshot(e2e.clients)).toEqual(before);
  });

  // Issue 10: the app's own settings are checked before the first AWS call, and before the lock.
  const APP_SETTING_CASES: { name: string; args: string[]; code: string; message: RegExp }[] = [
    { name: 'a malformed --env', args: ['--env', 'NO_EQUALS_SIGN'], code: 'CONFIG_INVALID', message: /--env: "NO_EQUALS_SIGN" is not KEY=VALUE/ },
    { name: 'a secret ARN of the wrong service', args: ['--secret', 'DB=arn:aws:s3:::bucket/key'], code: 'CONFIG_INVALID', message: /--secret.*must be the ARN of an SSM parameter/ },
    { name: 'a secret ARN in another region', args: ['--secret', 'DB=arn:aws:ssm:us-east-1:123456789012:parameter/db'], code: 'CONFIG_INVALID', message: /is in us-east-1, but the stack runs in eu-west-1/ },
    { name: 'an unreadable --app-env-file', args: ['--app-env-file', 'no-such.env'], code: 'ENV_FILE_UNREADABLE', message: /Cannot read the env file .*no-such\.env/ },
  ];
  for (const entry of APP_SETTING_CASES) {
    it(`${entry.name}: exit 2, ${entry.code}, nothing created and no state file`, async () => {
      const before = await snapshot(e2e.clients);
      const run = await e2e.authecs(['up', '--json', ...entry.args]);
      expect(run.code, describeRun(run)).toBe(2);
      const error = errorEvent(run);
      expect(error, describeRun(run)).toMatchObject({ code: entry.code, exitCode: 2 });
      expect(error?.message).toMatch(entry.message);
      expect(error?.hint).toBeTruthy();
      expect(existsSync(e2e.statePath())).toBe(false);
      expect(await snapshot(e2e.clients)).toEqual(before);
    });
  }
});
