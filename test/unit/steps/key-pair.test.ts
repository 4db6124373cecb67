import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyPairStep } from '../../../src/steps/key-pair.js';
import { diffFields } from '../../../src/steps/resource.js';
import { articleConfig, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestkeymaterial\n-----END RSA PRIVATE KEY-----';
const ourTags = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const notFound = Object.assign(new Error("The keypair 'ecsauth' does not exist"), { name: 'InvalidKeyPair.NotFound' });
const pair = (tags = ourTags, id = 'key-0123456789abcdef0', name = 'ecsauth') => ({ KeyName: name, KeyPairId: id, KeyType: 'rsa' as const, Tags: tags });

describe('key-pair step', () => {
  let harness: StepHarness<'key-pair'>;
  const keyFile = (name = 'ecsauth') => join(harness.folder, `${name}.pem`);
  const want = () => keyPairStep.desired(harness.config, harness.inputs);
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('is enabled only for the EC2 launch type', () => {
    expect(keyPairStep.enabled?.(articleConfig())).toBe(true);
    expect(keyPairStep.enabled?.(articleConfig({ launchType: 'FARGATE' }))).toBe(false);
  });

  it('wants the configured key name, and a new name means a new key pair', () => {
    harness = stepHarness(keyPairStep, { config: { keyPairName: 'my-key' } });
    expect(want()).toEqual({ keyName: 'my-key' });
    expect(keyPairStep.effects).toEqual({ keyName: 'replace' });
    expect(diffFields(want(), { keyName: 'ecsauth' }, keyPairStep.effects)).toEqual([{ field: 'keyName', from: 'ecsauth', to: 'my-key', effect: 'replace' }]);
  });

  it("creates the article's rsa key pair, tagged, and writes the private key only to a 0600 file", async () => {
    harness = stepHarness(keyPairStep);
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', KeyMaterial: PEM, KeyFingerprint: 'ab:cd' });

    expect(await keyPairStep.read(harness.readContext)).toBeUndefined();
    const output = await keyPairStep.create(harness.context, want());

    expect(ec2.commandCalls(CreateKeyPairCommand)[0]!.args[0].input).toEqual({
      KeyName: 'ecsauth',
      KeyType: 'rsa',
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: ourTags }],
    });
    expect(output).toEqual({ keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() });
    expect(readFileSync(keyFile(), 'utf8')).toBe(`${PEM}\n`);
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600);
    expect(harness.state.get('key-pair')).toMatchObject({ created: true, data: output });
    const stateText = readFileSync(harness.state.path, 'utf8');
    expect(stateText).not.toContain('PRIVATE KEY');
    expect(stateText).not.toContain('testkeymaterial');
    expect(JSON.stringify(output)).not.toContain('PRIVATE KEY');
  });

  it('uses --key-pair-name', async () => {
    harness = stepHarness(keyPairStep, { config: { keyPairName: 'my-key' } });
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'my-key', KeyPairId: 'key-1', KeyMaterial: PEM });

    const output = await keyPairStep.create(harness.context, want());

    expect(ec2.commandCalls(DescribeKeyPairsCommand)[0]!.args[0].input).toEqual({ KeyNames: ['my-key'] });
    expect(ec2.commandCalls(CreateKeyPairCommand)[0]!.args[0].input.KeyName).toBe('my-key');
    expect(output.privateKeyFile).toBe(join(harness.folder, 'my-key.pem'));
    expect(existsSync(output.privateKeyFile!)).toBe(true);
  });

  it('reads our key pair with its private key file as live and unchanged, with no write and no create call', async () => {
    harness = stepHarness(keyPairStep);
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });

    const live = await keyPairStep.read(harness.readContext);
    expect(live).toMatchObject({
      created: true,
      output: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() },
      observed: { keyName: 'ecsauth' },
      health: { healthy: true, summary: 'present' },
    });
    expect(keyPairStep.diff!(want(), live!)).toEqual([]);
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('a killed run adopted by create: our pair with its key file is recorded, not made again', async () => {
    harness = stepHarness(keyPairStep);
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });

    const output = await keyPairStep.create(harness.context, want());

    expect(output).toEqual({ keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() });
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('a pair whose private key file is gone is replaced: the diff says so, then delete and create make a new one', async () => {
    harness = stepHarness(keyPairStep, { record: { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: join('/nonexistent', 'x.pem') } } });
    ec2.on(DescribeKeyPairsCommand).resolvesOnce({ KeyPairs: [pair()] }).resolvesOnce({ KeyPairs: [pair()] }).rejects(notFound);
    ec2.on(DeleteKeyPairCommand).resolves({ Return: true });
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0fffffffffffffff0', KeyMaterial: PEM });

    const live = await keyPairStep.read(harness.readContext);
    expect(live?.health).toMatchObject({ healthy: false, summary: 'present, key file missing' });
    expect(keyPairStep.diff!(want(), live!)).toEqual([{ field: 'keyName', from: 'ecsauth (private key file missing)', to: 'ecsauth', effect: 'replace' }]);

    // No replace(): the engine deletes, then creates.
    await keyPairStep.delete(harness.context);
    const output = await keyPairStep.create(harness.context, want());

    expect(ec2.commandCalls(DeleteKeyPairCommand)[0]!.args[0].input).toEqual({ KeyName: 'ecsauth' });
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(1);
    expect(output.keyPairId).toBe('key-0fffffffffffffff0');
    expect(readFileSync(keyFile(), 'utf8')).toContain('BEGIN RSA PRIVATE KEY');
  });

  it('create still replaces a pair a killed run made without writing its key file', async () => {
    harness = stepHarness(keyPairStep);
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });
    ec2.on(DeleteKeyPairCommand).resolves({ Return: true });
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0fffffffffffffff0', KeyMaterial: PEM });

    const output = await keyPairStep.create(harness.context, want());

    const calls = ec2.calls().map((call) => call.args[0].constructor.name);
    expect(calls.indexOf('DeleteKeyPairCommand')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('DeleteKeyPairCommand')).toBeLessThan(calls.indexOf('CreateKeyPairCommand'));
    expect(output.keyPairId).toBe('key-0fffffffffffffff0');
  });

  it('a renamed key: read shows the recorded pair, so the diff replaces it with the new name', async () => {
    harness = stepHarness(keyPairStep, {
      config: { keyPairName: 'new-key' },
      record: { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: '/tmp/unused.pem' } },
    });
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand, { KeyNames: ['ecsauth'] }).resolves({ KeyPairs: [pair()] });
    ec2.on(DescribeKeyPairsCommand, { KeyNames: ['new-key'] }).rejects(notFound);

    const live = await keyPairStep.read(harness.readContext);
    expect(live?.observed).toEqual({ keyName: 'ecsauth' });
    expect(keyPairStep.diff!(want(), live!)).toEqual([{ field: 'keyName', from: 'ecsauth', to: 'new-key', effect: 'replace' }]);
  });

  it('refuses a key pair of that name that authecs did not create', async () => {
    harness = stepHarness(keyPairStep);
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair([{ Key: 'owner', Value: 'alice' }])] });

    await expect(keyPairStep.read(harness.readContext)).rejects.toMatchObject({ code: 'KEY_PAIR_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--key-pair-name') });
    await expect(keyPairStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'KEY_PAIR_NAME_TAKEN' });
    await expect(keyPairStep.create(harness.context, want())).rejects.toMatchObject({ code: 'KEY_PAIR_NAME_TAKEN' });
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('delete removes the key pair and its private key file', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });
    ec2.on(DeleteKeyPairCommand).resolves({ Return: true });

    await keyPairStep.delete(harness.context);

    expect(ec2.commandCalls(DeleteKeyPairCommand)[0]!.args[0].input).toEqual({ KeyName: 'ecsauth' });
    expect(existsSync(keyFile())).toBe(false);
  });

  it('delete treats a missing key pair and file as already deleted', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);

    await expect(keyPairStep.delete(harness.context)).resolves.toBeUndefined();
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('delete leaves a same-named key pair that someone else made since', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair([], 'key-0999999999999999')] });

    await keyPairStep.delete(harness.context);

    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('health: healthy with a 0600 key file, unhealthy when the file is readable by others or missing', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });
    writeFileSync(keyFile(), PEM, { mode: 0o600 });

    expect((await keyPairStep.read(harness.readContext))?.health).toMatchObject({ healthy: true, summary: 'present', details: { mode: '0600' } });

    chmodSync(keyFile(), 0o644);
    expect((await keyPairStep.read(harness.readContext))?.health).toMatchObject({ healthy: false, summary: 'present, key file readable by others', details: { mode: '0644' } });

    chmodSync(keyFile(), 0o600);
    writeFileSync(keyFile(), '');
    expect((await keyPairStep.read(harness.readContext))?.health.healthy).toBe(true);
  });

  it('read finds nothing for a missing key pair', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);

    expect(await keyPairStep.read(harness.readContext)).toBeUndefined();
  });
});
