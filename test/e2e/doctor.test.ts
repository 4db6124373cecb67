/**
 * `authecs doctor` against moto: the real SDK calls, answered by an emulator. moto has no
 * IAM policy simulator and no DNS, so those checks must say unknown, never pass or fail.
 * (In-process, like the claims tests: doctor changes nothing, so there is no state to crash.)
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AddRoleToInstanceProfileCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CheckResult } from '../../src/doctor/checks.js';
import { EXIT_CODES } from '../../src/errors.js';
import { skipE2e, startMotoOrFail, type MotoServer } from '../support/moto.js';

interface DoctorOutput {
  ok: boolean;
  account: string;
  checks: CheckResult[];
}

describe.skipIf(skipE2e)('authecs doctor against moto', () => {
  let moto: MotoServer;
  let cwd: string;
  let deadDnsPort: number;

  // In-process, the SDK's credential chain reads process.env, not the env given to main().
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    moto = await startMotoOrFail();
    cwd = mkdtempSync(join(tmpdir(), 'authecs-doctor-moto-'));
    const common = { region: 'eu-west-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const iam = new IAMClient(common);
    const route53 = new Route53Client(common);
    await route53.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'doctor-test' }));
    await iam.send(new CreateRoleCommand({ RoleName: 'ecsInstanceRole', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'ecsInstanceRole' }));
    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ecsInstanceRole', RoleName: 'ecsInstanceRole' }));
    iam.destroy();
    route53.destroy();
    // A UDP port where no DNS answers: the sandbox has no internet, and the check must say so.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    deadDnsPort = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });

  afterAll(async () => {
    for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await moto?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  async function doctor(args: string[]): Promise<{ code: number; json: DoctorOutput; stderr: string }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new PassThrough();
    stdin.end();
    let out = '';
    let err = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const env = { HOME: cwd, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: moto.endpoint, AUTHECS_DNS_SERVERS: `127.0.0.1:${deadDnsPort}` };
    const code = await main(['--json', 'doctor', ...args], { cwd, env, stdout, stderr, stdin });
    return { code, json: JSON.parse(out) as DoctorOutput, stderr: err };
  }

  const status = (output: DoctorOutput, name: string) => output.checks.find((check) => check.name === name);

  it('passes what moto can answer, says unknown for what it cannot, and fails a missing instance profile', async () => {
    const ready = await doctor(['--domain', 'www.example.com']);
    expect(status(ready.json, 'credentials'), JSON.stringify(ready.json.checks[0])).toMatchObject({ status: 'pass' });
    expect(ready.json.account).toMatch(/^\d{12}$/);
    expect(status(ready.json, 'instance-profile')).toMatchObject({ status: 'pass', details: { roles: ['ecsInstanceRole'] } });
    expect(status(ready.json, 'permissions')!.summary).toMatch(/^unknown: could not simulate \(/);
    expect(status(ready.json, 'hosted-zone')).toMatchObject({ status: 'unknown', details: { zone: 'example.com' } });
    expect(ready.json.checks.filter((check) => check.status === 'fail'), ready.stderr).toEqual([]);
    expect(ready.code).toBe(EXIT_CODES.success);

    const missing = await doctor(['--domain', 'www.example.com', '--instance-profile', 'noSuchProfile']);
    expect(status(missing.json, 'instance-profile')).toMatchObject({ status: 'fail' });
    expect(missing.code).toBe(EXIT_CODES.notReady);
  });
});
