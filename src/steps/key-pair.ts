import { existsSync, rmSync, statSync } from 'node:fs';
import { CreateKeyPairCommand, DeleteKeyPairCommand, DescribeKeyPairsCommand, type KeyPairInfo } from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import { writeFileAtomic } from '../state/state-file.js';
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

/** This machine's key file for the pair; undefined with --no-key-file. */
function keyFileOf(context: Context, keyName: string): string | undefined {
  return context.keyFiles.pathFor(keyName);
}

type MissingKeyFile = 'lost' | 'elsewhere' | 'never-kept';

/**
 * What a missing key file means. Beside a local state: the key is lost, unless the pair was made
 * with --no-key-file (which records no file). With a state in S3 the file is on whichever machine
 * made the pair, so its absence here loses nothing.
 */
function missingKeyFile(context: Context): MissingKeyFile {
  if (context.keyFiles.shared) return 'elsewhere';
  return context.record === undefined || context.record.data.privateKeyFile !== undefined ? 'lost' : 'never-kept';
}

function isOurs(context: Context, pair: KeyPairInfo): boolean {
  const recordedId = context.record?.data.keyPairId;
  return hasStackTag(pair.Tags, context.stack) || (recordedId !== undefined && recordedId === pair.KeyPairId);
}

/** A shared state records no local path: other machines must never act on it. */
function toOutput(context: Context, pair: KeyPairInfo): KeyPairOutput {
  const keyName = pair.KeyName!;
  const keyFile = context.keyFiles.shared ? undefined : keyFileOf(context, keyName);
  return { keyName, ...(pair.KeyPairId ? { keyPairId: pair.KeyPairId } : {}), ...(keyFile ? { privateKeyFile: keyFile } : {}) };
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

function healthOf(pair: KeyPairInfo, keyFile: string | undefined, missing: MissingKeyFile): Health {
  if (keyFile === undefined) return { healthy: true, summary: 'present (private key not kept: --no-key-file)', details: { keyPairId: pair.KeyPairId } };
  if (!existsSync(keyFile) && missing !== 'lost') {
    const summary = missing === 'elsewhere' ? 'present (private key not on this machine)' : 'present (private key not kept: made with --no-key-file)';
    return { healthy: true, summary, details: { keyPairId: pair.KeyPairId, privateKeyFile: keyFile } };
  }
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

async function readKeyPair(context: Context): Promise<Live<'key-pair', DesiredKeyPair> | undefined> {
  const pair = await locateLive(context);
  if (!pair) return undefined;
  const output = toOutput(context, pair);
  return { output, observed: { keyName: output.keyName }, created: true, health: healthOf(pair, keyFileOf(context, output.keyName), missingKeyFile(context)) };
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

  read: readKeyPair,

  /** The pair is found by name and tag; its private key only if the file beside the state file survived. */
  async recover(context) {
    const live = await readKeyPair(context);
    if (!live || live.health.details?.privateKeyFileMissing !== true) return live && { live };
    return { live, lost: [`the private key (${String(live.health.details.privateKeyFile)} is gone, and AWS shows a private key only when the pair is made): \`authecs up\` replaces the key pair`] };
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
    // Recorded only beside a local state (toOutput).
    const recordedFile = context.keyFiles.shared ? undefined : keyFile;
    // CreateKeyPair has no idempotency token: look right before creating.
    const existing = await locate(context, keyName);
    if (existing && (keyFile === undefined || existsSync(keyFile))) {
      const output = toOutput(context, existing);
      context.save({ created: true, data: output });
      return output;
    }
    if (existing) {
      // A run was killed between CreateKeyPair and writing the key file: AWS never shows the
      // private key again, so the pair can only be replaced.
      await context.clients.ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
      context.save({ created: true, data: { keyName, keyPairId: undefined, privateKeyFile: recordedFile } });
    }
    const response = await context.clients.ec2.send(
      new CreateKeyPairCommand({
        KeyName: keyName,
        KeyType: 'rsa',
        TagSpecifications: [{ ResourceType: 'key-pair', Tags: stackTags(context.stack) }],
      }),
    );
    const material = response.KeyMaterial ?? '';
    // The private key goes to a 0600 file on this machine only (or nowhere), never to the state or the output.
    if (keyFile) writeFileAtomic(keyFile, material.endsWith('\n') ? material : `${material}\n`);
    const output: KeyPairOutput = { keyName, ...(response.KeyPairId ? { keyPairId: response.KeyPairId } : {}), ...(recordedFile ? { privateKeyFile: recordedFile } : {}) };
    context.save({ created: true, data: output });
    return output;
  },

  async delete(context) {
    const keyName = keyNameOf(context);
    const pair = await describeKeyPair(context, keyName);
    if (pair && isOurs(context, pair)) {
      await context.clients.ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
    }
    // A path read from a shared state could point anywhere on this machine: only our own is removed.
    const keyFile = context.keyFiles.shared ? keyFileOf(context, keyName) : (context.record?.data.privateKeyFile ?? keyFileOf(context, keyName));
    if (keyFile) rmSync(keyFile, { force: true });
  },
});
