import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyPairStep } from '../../../src/steps/key-pair.js';
import { articleConfig, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ec2 = mockClient(EC2Client);
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestkeymaterial\n-----END RSA PRIVATE KEY-----';
const ourTags = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];
const notFound = Object.assign(new Error("The keypair 'ecsauth' does not exist"), { name: 'InvalidKeyPair.NotFound' });
const pair = (tags = ourTags, id = 'key-0123456789abcdef0') => ({ KeyName: 'ecsauth', KeyPairId: id, KeyType: 'rsa' as const, Tags: tags });

describe('key-pair step', () => {
  let harness: StepHarness<'key-pair'>;
  const keyFile = () => join(harness.folder, 'ecsauth.pem');
  beforeEach(() => {
    ec2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('is enabled only for the EC2 launch type', () => {
    expect(keyPairStep.enabled?.(articleConfig())).toBe(true);
    expect(keyPairStep.enabled?.(articleConfig({ launchType: 'FARGATE' }))).toBe(false);
  });

  it("creates the article's rsa key pair, tagged, and writes the private key only to a 0600 file", async () => {
    harness = stepHarness(keyPairStep);
    ec2.on(DescribeKeyPairsCommand).rejects(notFound);
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0123456789abcdef0', KeyMaterial: PEM, KeyFingerprint: 'ab:cd' });

    const output = await keyPairStep.create(harness.context);

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

    const output = await keyPairStep.create(harness.context);

    expect(ec2.commandCalls(DescribeKeyPairsCommand)[0]!.args[0].input).toEqual({ KeyNames: ['my-key'] });
    expect(output.privateKeyFile).toBe(join(harness.folder, 'my-key.pem'));
    expect(existsSync(output.privateKeyFile)).toBe(true);
  });

  it('adopts our key pair when its private key file is there, with no create call', async () => {
    harness = stepHarness(keyPairStep);
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });

    expect(await keyPairStep.find(harness.context)).toEqual({
      created: true,
      output: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() },
    });
    await keyPairStep.create(harness.context);
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteKeyPairCommand)).toHaveLength(0);
  });

  it('replaces our key pair when a killed run never wrote its private key file', async () => {
    harness = stepHarness(keyPairStep);
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });
    ec2.on(DeleteKeyPairCommand).resolves({ Return: true });
    ec2.on(CreateKeyPairCommand).resolves({ KeyName: 'ecsauth', KeyPairId: 'key-0fffffffffffffff0', KeyMaterial: PEM });

    expect(await keyPairStep.find(harness.context)).toBeUndefined();
    const output = await keyPairStep.create(harness.context);

    expect(ec2.commandCalls(DeleteKeyPairCommand)[0]!.args[0].input).toEqual({ KeyName: 'ecsauth' });
    expect(ec2.commandCalls(CreateKeyPairCommand)).toHaveLength(1);
    // The delete came before the create.
    const calls = ec2.calls().map((call) => call.args[0].constructor.name);
    expect(calls.indexOf('DeleteKeyPairCommand')).toBeLessThan(calls.indexOf('CreateKeyPairCommand'));
    expect(output.keyPairId).toBe('key-0fffffffffffffff0');
    expect(readFileSync(keyFile(), 'utf8')).toContain('BEGIN RSA PRIVATE KEY');
  });

  it('refuses a key pair of that name that authecs did not create', async () => {
    harness = stepHarness(keyPairStep);
    writeFileSync(keyFile(), PEM, { mode: 0o600 });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair([{ Key: 'owner', Value: 'alice' }])] });

    await expect(keyPairStep.find(harness.context)).rejects.toMatchObject({ code: 'KEY_PAIR_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--key-pair-name') });
    await expect(keyPairStep.create(harness.context)).rejects.toMatchObject({ code: 'KEY_PAIR_NAME_TAKEN' });
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

  it('inspect: healthy with a 0600 key file, drift when the file is readable by others or missing', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [pair()] });
    writeFileSync(keyFile(), PEM, { mode: 0o600 });

    expect(await keyPairStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, drift: [] });

    chmodSync(keyFile(), 0o644);
    const wide = await keyPairStep.inspect(harness.context);
    expect(wide).toMatchObject({ present: true, healthy: false });
    expect(wide.drift).toEqual([expect.stringContaining('0644')]);

    chmodSync(keyFile(), 0o600);
    writeFileSync(keyFile(), '');
    expect((await keyPairStep.inspect(harness.context)).healthy).toBe(true);
  });

  it('inspect reports a missing key pair and a missing key file', async () => {
    harness = stepHarness(keyPairStep);
    harness.state.update('key-pair', { created: true, complete: true, data: { keyName: 'ecsauth', keyPairId: 'key-0123456789abcdef0', privateKeyFile: keyFile() } });
    ec2.on(DescribeKeyPairsCommand).rejectsOnce(notFound).resolves({ KeyPairs: [pair()] });

    expect(await keyPairStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
    const noFile = await keyPairStep.inspect(harness.context);
    expect(noFile).toMatchObject({ present: true, healthy: false });
    expect(noFile.drift).toEqual([expect.stringContaining('missing')]);
  });
});
