import { existsSync, rmSync, statSync } from 'node:fs';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, type KeyPairInfo } from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import { privateKeyPath, writeFileAtomic } from '../state/state-file.js';
import type { KeyPairOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'key-pair'>;

async function describeKeyPair(context: Context, keyName: string): Promise<KeyPairInfo | undefined> {
  try {
    const response = await context.clients.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }));
    return response.KeyPairs?.find((pair) => pair.KeyName === keyName);
  } catch (error) {
    if (hasErrorCode(error, 'InvalidKeyPair.NotFound')) return undefined;
    throw error;
  }
}

function keyNameOf(context: Context): string {
  return context.record?.data.keyName ?? context.config.keyPairName;
}

function keyFileOf(context: Context, keyName: string): string {
  return privateKeyPath(context.statePath, keyName);
}

function isOurs(context: Context, pair: KeyPairInfo): boolean {
  const recordedId = context.record?.data.keyPairId;
  return hasStackTag(pair.Tags, context.stack) || (recordedId !== undefined && recordedId === pair.KeyPairId);
}

function toOutput(context: Context, pair: KeyPairInfo): KeyPairOutput {
  const keyName = pair.KeyName!;
  return { keyName, ...(pair.KeyPairId ? { keyPairId: pair.KeyPairId } : {}), privateKeyFile: keyFileOf(context, keyName) };
}

/** Our key pair by name; a same-named pair without our tag is someone else's. */
async function locate(context: Context): Promise<KeyPairInfo | undefined> {
  const keyName = context.config.keyPairName;
  const pair = await describeKeyPair(context, keyName);
  if (!pair) return undefined;
  if (isOurs(context, pair)) return pair;
  throw new AuthecsError(`An EC2 key pair named "${keyName}" already exists and was not created by authecs`, {
    code: 'KEY_PAIR_NAME_TAKEN',
    exit: 'conflict',
    resource: pair.KeyPairId ?? keyName,
    hint: 'Pass --key-pair-name (or AUTH_ECS_KEY_PAIR) with another name.',
  });
}

export const keyPairStep = defineStep({
  name: 'key-pair',
  title: 'EC2 key pair',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: [],
  enabled: (config) => config.launchType === 'EC2',

  async preflight(context) {
    await locate(context);
  },

  async find(context) {
    const pair = await locate(context);
    // Without its private key file the pair is useless; create() replaces it.
    if (!pair || !existsSync(keyFileOf(context, pair.KeyName!))) return undefined;
    return { output: toOutput(context, pair), created: true };
  },

  async create(context) {
    const keyName = context.config.keyPairName;
    const keyFile = keyFileOf(context, keyName);
    const existing = await locate(context);
    if (existing && existsSync(keyFile)) {
      const output = toOutput(context, existing);
      context.save({ created: true, data: output });
      return output;
    }
    if (existing) {
      // A run was killed between CreateKeyPair and writing the key file: AWS never shows the
      // private key again, so the pair can only be replaced.
      await context.clients.ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
      context.save({ created: true, data: { keyName, keyPairId: undefined, privateKeyFile: keyFile } });
    }
    const response = await context.clients.ec2.send(
      new CreateKeyPairCommand({
        KeyName: keyName,
        KeyType: 'rsa',
        TagSpecifications: [{ ResourceType: 'key-pair', Tags: stackTags(context.stack) }],
      }),
    );
    const material = response.KeyMaterial ?? '';
    // The private key goes to a 0600 file only, never to the state file or the output.
    writeFileAtomic(keyFile, material.endsWith('\n') ? material : `${material}\n`);
    const output: KeyPairOutput = { keyName, ...(response.KeyPairId ? { keyPairId: response.KeyPairId } : {}), privateKeyFile: keyFile };
    context.save({ created: true, data: output });
    return output;
  },

  async delete(context) {
    const keyName = keyNameOf(context);
    const pair = await describeKeyPair(context, keyName);
    if (pair && isOurs(context, pair)) {
      await context.clients.ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
    }
    rmSync(context.record?.data.privateKeyFile ?? keyFileOf(context, keyName), { force: true });
  },

  async inspect(context) {
    const keyName = keyNameOf(context);
    const keyFile = context.record?.data.privateKeyFile ?? keyFileOf(context, keyName);
    const pair = await describeKeyPair(context, keyName);
    const drift: string[] = [];
    let mode: number | undefined;
    if (existsSync(keyFile)) {
      mode = statSync(keyFile).mode & 0o777;
      if ((mode & 0o077) !== 0) drift.push(`private key file ${keyFile} has mode ${mode.toString(8).padStart(4, '0')}, wider than 0600`);
    } else {
      drift.push(`private key file ${keyFile} is missing`);
    }
    if (!pair) return { present: false, healthy: false, summary: 'missing', drift };
    return {
      present: true,
      healthy: drift.length === 0,
      summary: existsSync(keyFile) ? (drift.length === 0 ? 'present' : 'present, key file readable by others') : 'present, key file missing',
      drift,
      details: { keyPairId: pair.KeyPairId, privateKeyFile: keyFile, ...(mode === undefined ? {} : { mode: mode.toString(8).padStart(4, '0') }) },
    };
  },
});
