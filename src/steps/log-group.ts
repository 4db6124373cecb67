import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  ListTagsForResourceCommand,
  paginateDescribeLogGroups,
  PutRetentionPolicyCommand,
  type LogGroup,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  type Role,
} from '@aws-sdk/client-iam';
import { awsErrorCode, hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { LogGroupOutput, StepName } from './outputs.js';
import { defineResource, type Live, type ReadContext } from './resource.js';
import { missingActions, parsePolicyDocument, type PolicyDocument } from './shared/iam-policy-check.js';
import { pollUntil } from './shared/poll.js';
import { logsStackTags, STACK_TAG_KEY } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'log-group'>;

export interface DesiredLogGroup {
  logGroupName: string;
  retentionInDays: number;
}

/** The stack's log group: the container's output, one stream per task. */
export function logGroupNameFor(stack: string): string {
  return `/authecs/${stack}`;
}

/**
 * What `down --keep-logs` leaves in place: the engine skips deleting these and drops their
 * records with the state file; the next `up` adopts the group by its stack tag.
 */
export const KEEP_LOGS_STEPS: readonly StepName[] = ['log-group'];

// The awslogs driver on EC2 writes with these two actions (ECS guide, "Using the awslogs log driver").
const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
// The AWS managed policy the ECS guides give container instances; it allows both on "*".
const CONTAINER_INSTANCE_POLICY = 'AmazonEC2ContainerServiceforEC2Role';
const NOT_FOUND_CODES = ['ResourceNotFoundException'];
const IAM_DENIED_CODES = ['AccessDenied', 'AccessDeniedException'];
const IAM_MISSING_CODES = ['NoSuchEntity', 'NoSuchEntityException'];
const VISIBLE_TIMEOUT_SECONDS = 30;

async function describeLogGroup(context: Context, name: string): Promise<LogGroup | undefined> {
  // The prefix also matches /authecs/<stack>-other: only the exact name counts.
  for await (const page of paginateDescribeLogGroups({ client: context.clients.logs }, { logGroupNamePrefix: name })) {
    const found = page.logGroups?.find((group) => group.logGroupName === name);
    if (found) return found;
  }
  return undefined;
}

/** The ARN without the trailing `:*` DescribeLogGroups adds (ListTagsForResource takes this form). */
function arnOf(group: LogGroup): string {
  return group.logGroupArn ?? group.arn!.replace(/:\*$/, '');
}

function toOutput(group: LogGroup): LogGroupOutput {
  return { logGroupName: group.logGroupName!, logGroupArn: arnOf(group) };
}

async function isOurs(context: Context, group: LogGroup): Promise<boolean> {
  const recordedArn = context.record?.data.logGroupArn;
  if (recordedArn !== undefined && recordedArn === arnOf(group)) return true;
  const response = await context.clients.logs.send(new ListTagsForResourceCommand({ resourceArn: arnOf(group) }));
  return response.tags?.[STACK_TAG_KEY] === context.stack;
}

function nameTaken(name: string, group: LogGroup): AuthecsError {
  return new AuthecsError(`A CloudWatch Logs log group named "${name}" already exists and was not created by authecs for this stack`, {
    code: 'LOG_GROUP_NAME_TAKEN',
    exit: 'conflict',
    resource: arnOf(group),
    hint: `Delete or rename that log group if it is unused, tag it ${STACK_TAG_KEY}=<cluster> to let authecs adopt it, or pass --cluster with another name (it names the log group /authecs/<cluster>).`,
  });
}

/** The group if it is ours; undefined when it does not exist; a conflict when someone else holds the name. */
async function locate(context: Context): Promise<LogGroup | undefined> {
  const name = context.record?.data.logGroupName ?? logGroupNameFor(context.stack);
  const group = await describeLogGroup(context, name);
  if (!group) return undefined;
  if (await isOurs(context, group)) return group;
  throw nameTaken(name, group);
}

function live(group: LogGroup): Live<'log-group', DesiredLogGroup> {
  const retention = group.retentionInDays;
  return {
    output: toOutput(group),
    // Present even when unset ("never expire"), so a group that lost its retention is seen.
    observed: { logGroupName: group.logGroupName!, retentionInDays: retention },
    created: true,
    health: {
      healthy: true,
      summary: retention === undefined ? 'never expires' : `kept ${retention} days`,
      details: { logGroupArn: arnOf(group), retentionInDays: retention, storedBytes: group.storedBytes },
    },
  };
}

async function putRetention(context: Context, name: string, days: number): Promise<void> {
  await context.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: days }));
}

// ---- preflight: can the container instances write the logs? ----

interface RoleDocuments {
  documents: PolicyDocument[];
  /** The role has AmazonEC2ContainerServiceforEC2Role attached: no need to read the rest. */
  knownGrant: boolean;
}

async function roleDocuments(context: Context, roleName: string): Promise<RoleDocuments> {
  const { iam } = context.clients;
  const attachedArns: string[] = [];
  for await (const page of paginateListAttachedRolePolicies({ client: iam }, { RoleName: roleName })) {
    attachedArns.push(...(page.AttachedPolicies ?? []).map((policy) => policy.PolicyArn!));
  }
  const documents: PolicyDocument[] = [];
  if (attachedArns.some((arn) => arn.endsWith(`:policy/service-role/${CONTAINER_INSTANCE_POLICY}`))) return { documents, knownGrant: true };
  for (const policyArn of attachedArns) {
    const policy = (await iam.send(new GetPolicyCommand({ PolicyArn: policyArn }))).Policy;
    if (!policy?.DefaultVersionId) continue;
    const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: policy.DefaultVersionId }));
    const document = parsePolicyDocument(version.PolicyVersion?.Document);
    if (document) documents.push(document);
  }
  for await (const page of paginateListRolePolicies({ client: iam }, { RoleName: roleName })) {
    for (const policyName of page.PolicyNames ?? []) {
      const inline = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
      const document = parsePolicyDocument(inline.PolicyDocument);
      if (document) documents.push(document);
    }
  }
  return { documents, knownGrant: false };
}

/**
 * On EC2 the awslogs driver writes with the container instance role, not the task execution role
 * (ECS guide, "Amazon ECS task execution IAM role": the execution role carries awslogs only on
 * Fargate and external instances). Without logs:CreateLogStream and logs:PutLogEvents there,
 * containers fail to start ("failed to initialize logging driver: ... AccessDeniedException").
 * A warning, never a failure: the policy may be granted in ways this check cannot see.
 */
async function checkInstanceRoleWritesLogs(context: ReadContext<'log-group'>): Promise<void> {
  const { instanceProfile, region } = context.config;
  const groupName = logGroupNameFor(context.stack);
  let role: Role | undefined;
  try {
    role = (await context.clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: instanceProfile }))).InstanceProfile?.Roles?.[0];
  } catch (error) {
    // The capacity step's preflight already stops the run for a missing profile.
    if (hasErrorCode(error, ...IAM_MISSING_CODES)) return;
    context.warn(`could not check whether the container instances may write the app's logs to ${groupName}: reading instance profile ${instanceProfile} failed (${awsErrorCode(error)})`);
    return;
  }
  if (!role?.Arn || !role.RoleName) {
    context.warn(`instance profile ${instanceProfile} holds no role: the container instances cannot join the cluster or write the app's logs to ${groupName}. Add a role with the AWS managed policy ${CONTAINER_INSTANCE_POLICY} to it.`);
    return;
  }
  const [, partition, , , account] = role.Arn.split(':');
  const groupArn = `arn:${partition}:logs:${region}:${account}:log-group:${groupName}`;
  let found: RoleDocuments;
  try {
    found = await roleDocuments(context, role.RoleName);
  } catch (error) {
    const reason = hasErrorCode(error, ...IAM_DENIED_CODES) ? 'IAM read access denied' : awsErrorCode(error);
    context.warn(`could not check whether role ${role.RoleName} (instance profile ${instanceProfile}) may write the app's logs to ${groupName} (${reason}); on EC2 it needs logs:CreateLogStream and logs:PutLogEvents on ${groupArn}:*`);
    return;
  }
  if (found.knownGrant) return;
  // IAM checks PutLogEvents against the stream's ARN; a representative stream of this group.
  const missing = missingActions(found.documents, LOG_WRITE_ACTIONS, `${groupArn}:log-stream:authecs/web/0123456789abcdef0123456789abcdef`);
  if (missing.length === 0) return;
  context.warn(
    `role ${role.RoleName} (instance profile ${instanceProfile}) does not allow ${missing.join(' and ')} on ${groupName}. ` +
      "On EC2 the awslogs driver writes the app's logs with the container instance role, not the task execution role, so tasks fail to start without it. " +
      `Attach the AWS managed policy ${CONTAINER_INSTANCE_POLICY} (arn:${partition}:iam::aws:policy/service-role/${CONTAINER_INSTANCE_POLICY}) to ${role.RoleName}, ` +
      `or add an inline policy to it that allows logs:CreateLogStream and logs:PutLogEvents on ${groupArn}:*`,
  );
}

export const logGroupStep = defineResource<'log-group', DesiredLogGroup>({
  name: 'log-group',
  title: 'CloudWatch Logs log group',
  articleSection: 'Configuring the ECS service',
  dependsOn: [],

  // The container always logs somewhere; only `down --keep-logs` leaves the group behind.
  enabled: () => true,

  desired: (config) => ({ logGroupName: logGroupNameFor(config.cluster), retentionInDays: config.logRetentionDays }),
  // CloudWatch Logs API Reference: no call renames a log group; PutRetentionPolicy changes retention in place.
  effects: { logGroupName: 'replace', retentionInDays: 'update' },

  async preflight(context) {
    await locate(context);
    if (context.config.launchType === 'EC2') await checkInstanceRoleWritesLogs(context);
  },

  async read(context) {
    const group = await locate(context);
    return group ? live(group) : undefined;
  },

  async create(context, want) {
    try {
      await context.clients.logs.send(new CreateLogGroupCommand({ logGroupName: want.logGroupName, tags: logsStackTags(context.stack) }));
    } catch (error) {
      // CreateLogGroup is not idempotent: a group a lost answer made is ours by its tag; any other is refused.
      if (!hasErrorCode(error, 'ResourceAlreadyExistsException')) throw error;
      const existing = await describeLogGroup(context, want.logGroupName);
      if (existing && !(await isOurs(context, existing))) throw nameTaken(want.logGroupName, existing);
    }
    context.save({ created: true, data: { logGroupName: want.logGroupName } });
    const group = await pollUntil(context, {
      description: `log group ${want.logGroupName} to be listed by DescribeLogGroups`,
      intervalSeconds: 2,
      timeoutSeconds: VISIBLE_TIMEOUT_SECONDS,
      check: () => describeLogGroup(context, want.logGroupName),
    });
    await putRetention(context, want.logGroupName, want.retentionInDays);
    const output = toOutput(group);
    context.save({ created: true, data: output });
    return output;
  },

  async update(context, want, current, changes) {
    if (changes.some((change) => change.field === 'retentionInDays')) await putRetention(context, current.output.logGroupName, want.retentionInDays);
    context.save({ data: current.output });
    return current.output;
  },

  async delete(context) {
    const name = context.record?.data.logGroupName ?? logGroupNameFor(context.stack);
    try {
      await context.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: name }));
    } catch (error) {
      if (!hasErrorCode(error, ...NOT_FOUND_CODES)) throw error;
    }
  },
});
