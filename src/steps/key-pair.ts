import { existsSync, rmSync, statSync } from 'node:fs';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, type KeyPairInfo } from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import { privateKeyPath, writeFileAtomic } from '../state/state-file.js';
import type { KeyPairOutput } from './outputs.js';
import { defineResource, diffFields, type Change, type Effect, type Health, type Live, type ReadContext } from './resource.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'key-pair'>;

export interface DesiredKeyPair {
  keyName: string;
}

// EC2 has CreateKeyPair, ImportKeyPair and DeleteKeyPair but no call that renames or re-keys a pair
// (EC2 API Reference, CreateKeyPair: a name in use is an error), so a new name is a new pair.
const EFFECTS: { readonly [Field in keyof DesiredKeyPair]-?: Effect } = { keyName: 'replace' };

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

/** Our key pair of this name; a same-named pair without our tag is someone else's. */
async function locate(context: Context, keyName: string): Promise<KeyPairInfo | undefined> {
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

/** The recorded pair first (so a renamed key shows as a change), then one of the wanted name. */
async function locateLive(context: Context): Promise<KeyPairInfo | undefined> {
  const recorded = context.record?.data.keyName;
  if (recorded !== undefined && recorded !== context.config.keyPairName) {
    const pair = await describeKeyPair(context, recorded);
    if (pair && isOurs(context, pair)) return pair;
  }
  return locate(context, context.config.keyPairName);
}

function healthOf(pair: KeyPairInfo, keyFile: string): Health {
  if (!existsSync(keyFile)) {
    return { healthy: false, summary: 'present, key file missing', details: { keyPairId: pair.KeyPairId, privateKeyFile: keyFile, privateKeyFileMissing: true } };
  }
  const mode = statSync(keyFile).mode & 0o777;
  const shown = mode.toString(8).padStart(4, '0');
  const wide = (mode & 0o077) !== 0;
  return {
    healthy: !wide,
    summary: wide ? 'present, key file readable by others' : 'present',
    details: { keyPairId: pair.KeyPairId, privateKeyFile: keyFile, mode: shown },
  };
}

export const keyPairStep = defineResource<'key-pair', DesiredKeyPair>({
  name: 'key-pair',
  title: 'EC2 key pair',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: [],
  enabled: (config) => config.launchType === 'EC2',

  desired: (config) => ({ keyName: config.keyPairName }),
  effects: EFFECTS,

  async preflight(context: ReadContext<'key-pair'>) {
    await locate(context, context.config.keyPairName);
  },

  async read(context): Promise<Live<'key-pair', DesiredKeyPair> | undefined> {
    const pair = await locateLive(context);
    if (!pair) return undefined;
    const output = toOutput(context, pair);
    return { output, observed: { keyName: output.keyName }, created: true, health: healthOf(pair, output.privateKeyFile) };
  },

  // AWS shows the private key only once: a pair whose key file is gone is useless and can only be replaced.
  diff(want, live): Change[] {
    const changes = diffFields(want, live.observed, EFFECTS);
    if (changes.length === 0 && live.health.details?.privateKeyFileMissing === true) {
      changes.push({ field: 'keyName', from: `${live.output.keyName} (private key file missing)`, to: want.keyName, effect: 'replace' });
    }
    return changes;
  },

  async create(context, want) {
    const keyName = want.keyName;
    const keyFile = keyFileOf(context, keyName);
    // CreateKeyPair has no idempotency token: look right before creating.
    const existing = await locate(context, keyName);
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
});
