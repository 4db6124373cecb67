import { partitionOfRegion } from '../claims/verify.js';
import type { ConfigKey } from '../config/schema.js';
import { configError } from '../errors.js';
import { parseS3Url } from '../state/s3-store.js';
import type { PolicyContext } from './actions.js';

/** The settings the policy's ARNs are named from; `iam-policy` and `doctor` take them as `up` does. */
export const POLICY_SETTINGS: readonly ConfigKey[] = [
  'domain',
  'hostedZoneId',
  'networkStack',
  'loadBalancerName',
  'targetGroupName',
  'serviceName',
  'keyPairName',
  'instanceProfile',
];

export interface PolicyContextInput {
  /** Resolved settings (flags, environment, .env, defaults). */
  values: Partial<Record<ConfigKey, unknown>>;
  accountId?: string | undefined;
  instanceRole?: string | undefined;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value.trim() : undefined);

export function policyContextFrom(input: PolicyContextInput): PolicyContext {
  const { values } = input;
  if (input.accountId !== undefined && !/^\d{12}$/.test(input.accountId)) {
    throw configError('--account-id', `"${input.accountId}" is not a 12-digit AWS account ID`, 'Pass the account the policy is for, e.g. --account-id 123456789012, or leave it out for any account.');
  }
  const region = text(values.region);
  const cluster = text(values.cluster) ?? 'ecsauth';
  const instanceProfile = text(values.instanceProfile) ?? 'ecsInstanceRole';
  const domain = text(values.domain)?.toLowerCase().replace(/\.$/, '');
  const hostedZoneId = text(values.hostedZoneId)?.replace(/^\/hostedzone\//, '');
  const stateObject = parseS3Url(text(values.stateFile) ?? '');
  return {
    partition: partitionOfRegion(region ?? 'us-east-1'),
    region: region ?? '*',
    account: input.accountId ?? '*',
    stack: cluster,
    cluster,
    serviceName: text(values.serviceName) ?? `${cluster}service`,
    loadBalancerName: text(values.loadBalancerName) ?? cluster,
    targetGroupName: text(values.targetGroupName) ?? `${cluster}-tg`,
    keyPairName: text(values.keyPairName) ?? cluster,
    networkStack: text(values.networkStack) ?? 'ecsplatform',
    instanceProfile,
    instanceRole: input.instanceRole ?? instanceProfile,
    ...(hostedZoneId ? { hostedZoneId } : {}),
    ...(domain ? { domain } : {}),
    ...(stateObject ? { stateObject } : {}),
  };
}
