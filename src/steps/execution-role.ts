import { createHash } from 'node:crypto';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRoleTagsCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { hasErrorCode } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import { AuthecsError } from '../errors.js';
import type { ExecutionRoleOutput } from './outputs.js';
import { defineResource, type Live } from './resource.js';
import { normalizePolicyDocument, parsePolicyDocument, type PolicyDocument, type PolicyStatement } from './shared/iam-policy-check.js';
import { partitionOfRegion } from './shared/partition.js';
import { pollUntil } from './shared/poll.js';
import { hasStackTag, stackTags, STACK_TAG_KEY } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'execution-role'>;

export interface DesiredExecutionRole {
  roleName: string;
  path: string;
  /** The trust policy, normalised (see normalizePolicyDocument). */
  assumeRolePolicy: PolicyDocument;
  /** Sorted. */
  managedPolicyArns: string[];
  /** The `authecs-secrets` inline policy; null when no secrets are set (then it must not exist). */
  inlinePolicy: PolicyDocument | null;
}

export const EXECUTION_ROLE_PATH = '/authecs/';
export const SECRETS_POLICY_NAME = 'authecs-secrets';
// IAM API Reference, CreateRole: RoleName is at most 64 characters of [\w+=,.@-].
const ROLE_NAME_MAX = 64;
const IAM_MISSING_CODES = ['NoSuchEntity', 'NoSuchEntityException'];
const ROLE_VISIBLE_TIMEOUT_SECONDS = 60;

// ECS guide, "Amazon ECS task execution IAM role": the trust relationship the guide creates. No
// aws:SourceAccount condition: the guide's execution-role trust policy has none, and desired()
// cannot know the account.
const TRUST_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/** IAM is global, so the name carries the region as well as the stack; a long one is cut and keeps a hash. */
export function executionRoleNameFor(stack: string, region: string): string {
  const full = `${stack}-${region}-ecs-execution`;
  if (full.length <= ROLE_NAME_MAX) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, ROLE_NAME_MAX - hash.length - 1)}-${hash}`;
}

export function executionRolePolicyArn(region: string): string {
  return `arn:${partitionOfRegion(region)}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`;
}

/**
 * The ARN IAM knows a secret by. A Secrets Manager `valueFrom` may add
 * `:json-key:version-stage:version-id` after the secret's ARN (ECS guide, "Pass Secrets Manager
 * secrets through Amazon ECS environment variables"); IAM resources and the KMS encryption
 * context name the secret alone: its first seven colon-separated parts.
 */
export function secretResourceArn(valueFrom: string): string {
  const parts = valueFrom.split(':');
  return parts[2] === 'secretsmanager' ? parts.slice(0, 7).join(':') : valueFrom;
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Each KMS key in the secrets' accounts and regions; the encryption-context condition does the narrowing. */
function keyArns(arns: readonly string[]): string[] {
  return sortedUnique(arns.map((arn) => {
    const [, partition, , region, account] = arn.split(':');
    return `arn:${partition}:kms:${region}:${account}:key/*`;
  }));
}

function viaService(service: 'ssm' | 'secretsmanager', arns: readonly string[]): string[] {
  return sortedUnique(arns.map((arn) => {
    const [, partition, , region] = arn.split(':');
    return `${service}.${region}.${partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
  }));
}

/**
 * Read access to exactly the configured secrets. ECS guide, "Required IAM permissions for Amazon
 * ECS secrets": the execution role needs "ssm:GetParameters — Required if you are referencing a
 * Systems Manager Parameter Store parameter", "secretsmanager:GetSecretValue — Required if you are
 * referencing a Secrets Manager secret", and "kms:Decrypt — Required only if your secret uses a
 * custom KMS key". kms:Decrypt is scoped to these secrets by kms:ViaService and the services'
 * encryption contexts: Parameter Store uses "Key: PARAMETER_ARN, Value: The Amazon Resource Name
 * (ARN) of the parameter" (KMS guide, "How AWS Systems Manager Parameter Store uses AWS KMS");
 * Secrets Manager "SecretARN – ... The value is the Amazon Resource Name (ARN) of the secret"
 * (Secrets Manager guide, "Secret encryption and decryption"). One statement per service: a
 * request carries only its own service's context key, so the two cannot share a condition.
 */
export function secretsPolicy(valueFroms: readonly string[]): PolicyDocument | null {
  const arns = sortedUnique(valueFroms.map(secretResourceArn));
  const parameters = arns.filter((arn) => arn.split(':')[2] === 'ssm');
  const secrets = arns.filter((arn) => arn.split(':')[2] === 'secretsmanager');
  const statements: PolicyStatement[] = [];
  if (parameters.length > 0) {
    statements.push({ Sid: 'ReadParameters', Effect: 'Allow', Action: 'ssm:GetParameters', Resource: parameters });
    statements.push({
      Sid: 'DecryptParameters',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArns(parameters),
      Condition: { StringEquals: { 'kms:ViaService': viaService('ssm', parameters), 'kms:EncryptionContext:PARAMETER_ARN': parameters } },
    });
  }
  if (secrets.length > 0) {
    statements.push({ Sid: 'ReadSecrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secrets });
    statements.push({
      Sid: 'DecryptSecrets',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArns(secrets),
      Condition: { StringEquals: { 'kms:ViaService': viaService('secretsmanager', secrets), 'kms:EncryptionContext:SecretARN': secrets } },
    });
  }
  return statements.length === 0 ? null : normalizePolicyDocument({ Version: '2012-10-17', Statement: statements });
}

function desiredFor(config: Config): DesiredExecutionRole {
  return {
    roleName: executionRoleNameFor(config.cluster, config.region),
    path: EXECUTION_ROLE_PATH,
    assumeRolePolicy: normalizePolicyDocument(TRUST_POLICY),
    managedPolicyArns: [executionRolePolicyArn(config.region)],
    inlinePolicy: secretsPolicy(Object.values(config.secrets)),
  };
}

function normalized(text: string | undefined): PolicyDocument | undefined {
  const document = parsePolicyDocument(text);
  return document && normalizePolicyDocument(document);
}

async function getRole(context: Context, name: string): Promise<Role | undefined> {
  try {
    return (await context.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (error) {
    if (hasErrorCode(error, ...IAM_MISSING_CODES)) return undefined;
    throw error;
  }
}

async function isOurs(context: Context, role: Role): Promise<boolean> {
  const recordedArn = context.record?.data.roleArn;
  if (recordedArn !== undefined && recordedArn === role.Arn) return true;
  // GetRole returns the role's tags (IAM API Reference, Role.Tags); ask ListRoleTags only when an emulator leaves them out.
  const tags = role.Tags ?? (await context.clients.iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName! }))).Tags;
  return hasStackTag(tags, context.stack);
}

function nameTaken(role: Role): AuthecsError {
  return new AuthecsError(`An IAM role named "${role.RoleName}" already exists and was not created by authecs for this stack`, {
    code: 'EXECUTION_ROLE_NAME_TAKEN',
    exit: 'conflict',
    resource: role.Arn,
    hint: `Delete that role if it is unused, tag it ${STACK_TAG_KEY}=<cluster> to let authecs adopt it, or pass --cluster with another name (the role is named <cluster>-<region>-ecs-execution).`,
  });
}

async function locate(context: Context): Promise<Role | undefined> {
  const name = context.record?.data.roleName ?? executionRoleNameFor(context.stack, context.config.region);
  const role = await getRole(context, name);
  if (!role) return undefined;
  if (await isOurs(context, role)) return role;
  throw nameTaken(role);
}

async function attachedPolicyArns(context: Context, roleName: string): Promise<string[]> {
  const arns: string[] = [];
  for await (const page of paginateListAttachedRolePolicies({ client: context.clients.iam }, { RoleName: roleName })) {
    arns.push(...(page.AttachedPolicies ?? []).map((policy) => policy.PolicyArn!));
  }
  return arns.sort();
}

async function inlinePolicyNames(context: Context, roleName: string): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListRolePolicies({ client: context.clients.iam }, { RoleName: roleName })) names.push(...(page.PolicyNames ?? []));
  return names;
}

async function observe(context: Context, role: Role): Promise<Partial<DesiredExecutionRole>> {
  const roleName = role.RoleName!;
  const inline = (await inlinePolicyNames(context, roleName)).includes(SECRETS_POLICY_NAME)
    ? normalized((await context.clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: SECRETS_POLICY_NAME }))).PolicyDocument)
    : null;
  return {
    roleName,
    path: role.Path,
    assumeRolePolicy: normalized(role.AssumeRolePolicyDocument),
    managedPolicyArns: await attachedPolicyArns(context, roleName),
    inlinePolicy: inline,
  };
}

async function live(context: Context, role: Role): Promise<Live<'execution-role', DesiredExecutionRole>> {
  const observed = await observe(context, role);
  return {
    output: { roleName: role.RoleName!, roleArn: role.Arn! },
    observed,
    created: true,
    health: {
      healthy: true,
      summary: `${role.Path ?? '/'}${role.RoleName}`,
      details: { roleArn: role.Arn, managedPolicyArns: observed.managedPolicyArns, secretsPolicy: observed.inlinePolicy !== null },
    },
  };
}

/**
 * IAM is eventually consistent (IAM User Guide, "Changes that I make are not always immediately
 * visible"): a call on a role made a moment ago can get NoSuchEntity for the role. Retried
 * briefly; a missing policy (its own NoSuchEntity) is not.
 */
async function whileRoleNotVisible(context: Context, roleName: string, call: () => Promise<unknown>): Promise<void> {
  await pollUntil(context, {
    description: `IAM role ${roleName} to be visible`,
    intervalSeconds: 2,
    timeoutSeconds: ROLE_VISIBLE_TIMEOUT_SECONDS,
    check: async () => {
      try {
        await call();
        return true;
      } catch (error) {
        if (hasErrorCode(error, ...IAM_MISSING_CODES) && (error as Error).message.includes(roleName)) return undefined;
        throw error;
      }
    },
  });
}

/** Brings the trust policy, managed policies and inline policy of `roleName` to `want`, for the given fields. */
async function converge(context: Context, roleName: string, want: DesiredExecutionRole, observed: Partial<DesiredExecutionRole>, fields: ReadonlySet<string>): Promise<void> {
  const { iam } = context.clients;
  if (fields.has('assumeRolePolicy')) {
    await whileRoleNotVisible(context, roleName, () => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: JSON.stringify(want.assumeRolePolicy) })));
  }
  if (fields.has('managedPolicyArns')) {
    const current = observed.managedPolicyArns ?? [];
    for (const policyArn of want.managedPolicyArns.filter((arn) => !current.includes(arn))) {
      await whileRoleNotVisible(context, roleName, () => iam.send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })));
    }
    for (const policyArn of current.filter((arn) => !want.managedPolicyArns.includes(arn))) {
      await iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn }));
    }
  }
  if (fields.has('inlinePolicy')) {
    if (want.inlinePolicy) {
      const document = JSON.stringify(want.inlinePolicy);
      await whileRoleNotVisible(context, roleName, () => iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: SECRETS_POLICY_NAME, PolicyDocument: document })));
    } else {
      try {
        await iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: SECRETS_POLICY_NAME }));
      } catch (error) {
        if (!hasErrorCode(error, ...IAM_MISSING_CODES)) throw error;
      }
    }
  }
}

const EVERY_FIELD = new Set(['assumeRolePolicy', 'managedPolicyArns', 'inlinePolicy']);

export const executionRoleStep = defineResource<'execution-role', DesiredExecutionRole>({
  name: 'execution-role',
  title: 'ECS task execution role',
  articleSection: 'Configuring the ECS service',
  dependsOn: [],

  // ECS guide, "Amazon ECS task execution IAM role": awslogs on Fargate, and secrets on either launch type.
  enabled: (config) => config.launchType === 'FARGATE' || Object.keys(config.secrets).length > 0,

  desired: desiredFor,
  // IAM has no rename or move of a role; UpdateAssumeRolePolicy, Attach/DetachRolePolicy and
  // Put/DeleteRolePolicy change the rest in place (IAM API Reference).
  effects: { roleName: 'replace', path: 'replace', assumeRolePolicy: 'update', managedPolicyArns: 'update', inlinePolicy: 'update' },

  async preflight(context) {
    await locate(context);
  },

  async read(context) {
    const role = await locate(context);
    return role ? live(context, role) : undefined;
  },

  async create(context, want) {
    let role: Role;
    let observed: Partial<DesiredExecutionRole> = { managedPolicyArns: [], inlinePolicy: null };
    let fields = new Set(['managedPolicyArns', 'inlinePolicy']);
    try {
      role = (
        await context.clients.iam.send(
          new CreateRoleCommand({
            RoleName: want.roleName,
            Path: want.path,
            AssumeRolePolicyDocument: JSON.stringify(want.assumeRolePolicy),
            Description: `ECS task execution role of authecs stack ${context.stack}`,
            Tags: stackTags(context.stack),
          }),
        )
      ).Role!;
    } catch (error) {
      // CreateRole has no idempotency token: a role a lost answer made is ours by its tag; any other is refused.
      if (!hasErrorCode(error, 'EntityAlreadyExists', 'EntityAlreadyExistsException')) throw error;
      const existing = await getRole(context, want.roleName);
      if (!existing) throw error;
      if (!(await isOurs(context, existing))) throw nameTaken(existing);
      role = existing;
      observed = await observe(context, existing);
      fields = EVERY_FIELD;
    }
    const output: ExecutionRoleOutput = { roleName: role.RoleName!, roleArn: role.Arn! };
    context.save({ created: true, data: output });
    await converge(context, output.roleName, want, observed, fields);
    return output;
  },

  async update(context, want, current, changes) {
    await converge(context, current.output.roleName, want, current.observed, new Set(changes.map((change) => change.field)));
    context.save({ data: current.output });
    return current.output;
  },

  async delete(context) {
    const { iam } = context.clients;
    const roleName = context.record?.data.roleName ?? executionRoleNameFor(context.stack, context.config.region);
    // DeleteRole refuses while policies are attached or embedded (IAM API Reference, DeleteRole: DeleteConflict).
    let attached: string[];
    let inline: string[];
    try {
      attached = await attachedPolicyArns(context, roleName);
      inline = await inlinePolicyNames(context, roleName);
    } catch (error) {
      if (hasErrorCode(error, ...IAM_MISSING_CODES)) return;
      throw error;
    }
    const ignoringMissing = async (call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (error) {
        if (!hasErrorCode(error, ...IAM_MISSING_CODES)) throw error;
      }
    };
    for (const policyArn of attached) await ignoringMissing(() => iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })));
    for (const policyName of inline) await ignoringMissing(() => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })));
    await ignoringMissing(() => iam.send(new DeleteRoleCommand({ RoleName: roleName })));
  },
});
