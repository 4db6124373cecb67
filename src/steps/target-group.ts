import { createHash } from 'node:crypto';
import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  type ProtocolEnum,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Config } from '../config/schema.js';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { TargetGroupOutput } from './outputs.js';
import { canonical, defineResource, known, UNKNOWN, type Inputs, type Live, type Maybe } from './resource.js';
import { retryWhileInUse } from './shared/poll.js';
import { resolved } from './shared/resolved.js';
import { hasStackTag, stackTags } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'target-group'>;

export const DEREGISTRATION_DELAY_KEY = 'deregistration_delay.timeout_seconds';
// Copilot's value: tasks drain in a minute instead of AWS's default five, so deploys and `down` are faster.
export const DEREGISTRATION_DELAY_SECONDS = '60';

const NOT_FOUND = ['TargetGroupNotFoundException', 'TargetGroupNotFound'];
const MAX_NAME_LENGTH = 32;
const SUFFIX_HEX = 4;

export interface DesiredHealthCheck {
  protocol: ProtocolEnum;
  port: string;
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** HTTP codes that count as healthy. */
  matcher: string;
}

export interface DesiredTargetGroup {
  /** The configured name; a replacement's group carries a suffix (see replace). */
  name: string;
  port: number;
  protocol: ProtocolEnum;
  targetType: 'instance' | 'ip';
  vpcId: Maybe<string>;
  healthCheck: DesiredHealthCheck;
  /** Target group attributes authecs sets, by key. */
  attributes: Record<string, string>;
}

// The settings' health check (10 s, 2 healthy, 2 unhealthy by default: see config/schema.ts), sent
// explicitly so drift shows (ALB user guide, "Health checks for your target groups"). The timeout must stay
// below the interval (2-120 s; aws/aws-cdk#22200): 5 s, or interval - 1 at the 5 s minimum.
export function healthCheckOf(config: Config): DesiredHealthCheck {
  return {
    protocol: 'HTTP',
    port: 'traffic-port',
    path: config.healthCheckPath,
    intervalSeconds: config.healthCheckIntervalSeconds,
    timeoutSeconds: Math.min(5, config.healthCheckIntervalSeconds - 1),
    healthyThreshold: config.healthyThreshold,
    unhealthyThreshold: config.unhealthyThreshold,
    matcher: config.healthCheckMatcher,
  };
}

export function targetTypeFor(config: Config): 'instance' | 'ip' {
  // Fargate tasks use awsvpc networking and register by IP; EC2 tasks (bridge) by instance.
  return config.launchType === 'FARGATE' ? 'ip' : 'instance';
}

async function describe(context: Context, query: { Names: string[] } | { TargetGroupArns: string[] }): Promise<TargetGroup | undefined> {
  try {
    const response = await context.clients.elbv2.send(new DescribeTargetGroupsCommand(query));
    return response.TargetGroups?.[0];
  } catch (error) {
    if (hasErrorCode(error, ...NOT_FOUND)) return undefined;
    throw error;
  }
}

async function isOurs(context: Context, arn: string): Promise<boolean> {
  const response = await context.clients.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }));
  return hasStackTag(response.TagDescriptions?.[0]?.Tags, context.stack);
}

function nameTaken(name: string, arn?: string, cause?: unknown): AuthecsError {
  return new AuthecsError(`A target group named "${name}" already exists and was not created by authecs`, {
    code: 'TARGET_GROUP_NAME_TAKEN',
    exit: 'conflict',
    resource: arn ?? name,
    cause,
    hint: 'Pass --target-group-name (or AUTH_ECS_TG_NAME) with another name, or --cluster to name the whole stack differently.',
  });
}

/** The recorded target group, else one with our name; a same-named one without our tag is someone else's. */
async function locate(context: Context): Promise<TargetGroup | undefined> {
  const recordedArn = context.record?.data.targetGroupArn;
  if (recordedArn) {
    const recorded = await describe(context, { TargetGroupArns: [recordedArn] });
    if (recorded) return recorded;
  }
  const name = context.config.targetGroupName;
  const named = await describe(context, { Names: [name] });
  if (!named) return undefined;
  if (!(await isOurs(context, named.TargetGroupArn!))) throw nameTaken(name, named.TargetGroupArn);
  return named;
}

function observedHealthCheck(group: TargetGroup): DesiredHealthCheck {
  return {
    protocol: group.HealthCheckProtocol!,
    port: group.HealthCheckPort!,
    path: group.HealthCheckPath!,
    intervalSeconds: group.HealthCheckIntervalSeconds!,
    timeoutSeconds: group.HealthCheckTimeoutSeconds!,
    healthyThreshold: group.HealthyThresholdCount!,
    unhealthyThreshold: group.UnhealthyThresholdCount!,
    matcher: group.Matcher?.HttpCode ?? '',
  };
}

/** The live values of the attributes authecs sets (the others are AWS's business). */
async function attributesOf(context: Context, arn: string, wanted: readonly string[]): Promise<Record<string, string>> {
  const response = await context.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
  const live = new Map((response.Attributes ?? []).map((attribute) => [attribute.Key, attribute.Value]));
  return Object.fromEntries(wanted.flatMap((key) => (live.has(key) ? [[key, live.get(key) ?? '']] : [])));
}

function toOutput(group: TargetGroup, configuredName: string): TargetGroupOutput {
  return { name: group.TargetGroupName!, targetGroupArn: group.TargetGroupArn!, targetType: group.TargetType === 'ip' ? 'ip' : 'instance', configuredName };
}

/** The request fields of the health check, as CreateTargetGroup and ModifyTargetGroup take them. */
function healthCheckInput(healthCheck: DesiredHealthCheck) {
  return {
    HealthCheckProtocol: healthCheck.protocol,
    HealthCheckPort: healthCheck.port,
    HealthCheckPath: healthCheck.path,
    HealthCheckIntervalSeconds: healthCheck.intervalSeconds,
    HealthCheckTimeoutSeconds: healthCheck.timeoutSeconds,
    HealthyThresholdCount: healthCheck.healthyThreshold,
    UnhealthyThresholdCount: healthCheck.unhealthyThreshold,
    Matcher: { HttpCode: healthCheck.matcher },
  };
}

async function setHealthCheck(context: Context, arn: string, want: DesiredTargetGroup): Promise<void> {
  await context.clients.elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: arn, ...healthCheckInput(want.healthCheck) }));
}

async function setAttributes(context: Context, arn: string, want: DesiredTargetGroup): Promise<void> {
  const attributes = Object.entries(want.attributes).map(([Key, Value]) => ({ Key, Value }));
  await context.clients.elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: attributes }));
}

/** Creates the group under `name` and records it before anything else (CreateTargetGroup takes no attributes). */
async function createGroup(context: Context, want: DesiredTargetGroup, name: string): Promise<TargetGroupOutput> {
  let group: TargetGroup;
  try {
    const response = await context.clients.elbv2.send(
      new CreateTargetGroupCommand({
        Name: name,
        Protocol: want.protocol,
        Port: want.port,
        TargetType: want.targetType,
        VpcId: resolved(want.vpcId, 'VPC ID'),
        ...healthCheckInput(want.healthCheck),
        Tags: stackTags(context.stack),
      }),
    );
    group = response.TargetGroups![0]!;
  } catch (error) {
    if (!hasErrorCode(error, 'DuplicateTargetGroupNameException', 'DuplicateTargetGroupName')) throw error;
    // Ours when a retry follows a lost answer (AWS answers an identical create with the same group,
    // "CreateTargetGroup ... is idempotent"; emulators refuse it): adopt it. Anyone else's is a conflict.
    const holder = await describe(context, { Names: [name] });
    if (!holder || !(await isOurs(context, holder.TargetGroupArn!))) throw nameTaken(name, holder?.TargetGroupArn, error);
    group = holder;
  }
  const output = toOutput(group, want.name);
  context.save({ created: true, data: output });
  return output;
}

/**
 * Names for a replacement group. Target group names are unique per account and region, and the
 * old group must keep serving until the rule and the service move, so the new group cannot take
 * its name: it gets the configured name when that is free, else `<name>-<4 hex>` (32 characters
 * at most), the hex derived from the new settings so a killed run finds the same name again.
 */
export function replacementNames(want: DesiredTargetGroup, liveName: string): string[] {
  const base = want.name.slice(0, MAX_NAME_LENGTH - SUFFIX_HEX - 1).replace(/-+$/, '');
  const seed = canonical({ name: want.name, port: want.port, protocol: want.protocol, targetType: want.targetType, vpcId: want.vpcId });
  const suffixed = [0, 1, 2].map((attempt) => `${base}-${createHash('sha256').update(`${seed}#${attempt}`).digest('hex').slice(0, SUFFIX_HEX)}`);
  return [want.name, ...suffixed].filter((name) => name !== liveName);
}

/** A group a killed replacement left: ours, with the settings a new group would have. */
async function isLeftover(context: Context, group: TargetGroup, want: DesiredTargetGroup, liveArn: string): Promise<boolean> {
  if (group.TargetGroupArn === liveArn) return false;
  const fits = group.Port === want.port && group.Protocol === want.protocol && group.TargetType === want.targetType && group.VpcId === want.vpcId;
  return fits && (await isOurs(context, group.TargetGroupArn!));
}

function desiredGroup(config: Config, inputs: Inputs): DesiredTargetGroup {
  return {
    name: config.targetGroupName,
    port: config.containerPort,
    protocol: 'HTTP',
    targetType: targetTypeFor(config),
    vpcId: known(inputs.network, (network) => network.vpcId) ?? UNKNOWN,
    healthCheck: healthCheckOf(config),
    attributes: { [DEREGISTRATION_DELAY_KEY]: DEREGISTRATION_DELAY_SECONDS },
  };
}

/** The live group as read() reports it: settings, attributes and target health. */
async function liveOf(context: Context, group: TargetGroup): Promise<Live<'target-group', DesiredTargetGroup>> {
  const arn = group.TargetGroupArn!;
  const recorded = context.record?.data;
  // A replacement's group stands for the configured name it was made for.
  const configuredName = (recorded?.targetGroupArn === arn ? recorded.configuredName : undefined) ?? group.TargetGroupName!;
  const attributes = await attributesOf(context, arn, [DEREGISTRATION_DELAY_KEY]);
  const health = await context.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
  const targets = (health.TargetHealthDescriptions ?? []).map((description) => ({
    id: description.Target?.Id,
    port: description.Target?.Port,
    state: description.TargetHealth?.State ?? 'unknown',
    ...(description.TargetHealth?.Reason ? { reason: description.TargetHealth.Reason } : {}),
    ...(description.TargetHealth?.Description ? { description: description.TargetHealth.Description } : {}),
  }));
  const healthyCount = targets.filter((target) => target.state === 'healthy').length;
  // AWS's reason codes (Target.ResponseCodeMismatch, Target.Timeout …) say why a target is not healthy.
  const reasons = [...new Set(targets.filter((target) => target.state !== 'healthy').map((target) => `${target.state}${'reason' in target ? ` ${target.reason}` : ''}`))];
  const desiredCount = context.config.desiredCount;
  const live: Live<'target-group', DesiredTargetGroup> = {
    output: toOutput(group, configuredName),
    observed: {
      name: configuredName,
      port: group.Port!,
      protocol: group.Protocol!,
      targetType: group.TargetType === 'ip' ? 'ip' : 'instance',
      vpcId: group.VpcId!,
      healthCheck: observedHealthCheck(group),
      attributes,
    },
    created: true,
    health: { healthy: healthyCount >= desiredCount, summary: `${healthyCount}/${desiredCount} healthy${reasons.length ? ` (${reasons.join(', ')})` : ''}`, details: { targets } },
  };
  return live;
}

export const targetGroupStep = defineResource<'target-group', DesiredTargetGroup>({
  name: 'target-group',
  title: 'Target group',
  articleSection: 'Create and configure a target group for the ALB',
  dependsOn: ['network'],

  desired: desiredGroup,

  // ModifyTargetGroup changes the health check and ModifyTargetGroupAttributes the attributes in
  // place (API reference); name, port, protocol, target type and VPC need a new target group
  // (CreateTargetGroup only; Terraform's aws_lb_target_group marks them ForceNew).
  effects: {
    name: 'replace',
    port: 'replace',
    protocol: 'replace',
    targetType: 'replace',
    vpcId: 'replace',
    healthCheck: 'update',
    attributes: 'update',
  },

  async preflight(context) {
    await locate(context);
  },

  async read(context) {
    const group = await locate(context);
    return group ? liveOf(context, group) : undefined;
  },

  /** Without a record, a replacement's group is found under the suffixed name these settings give it. */
  async recover(context) {
    const named = await locate(context);
    if (named) return { live: await liveOf(context, named) };
    if (!context.hasOutput('network')) return undefined;
    const want = desiredGroup(context.config, { network: context.output('network') });
    for (const name of replacementNames(want, want.name)) {
      const group = await describe(context, { Names: [name] });
      if (group && group.VpcId === want.vpcId && (await isOurs(context, group.TargetGroupArn!))) {
        const live = await liveOf(context, group);
        // It stands for the configured name, as replace() records it.
        return { live: { ...live, output: { ...live.output, configuredName: want.name }, observed: { ...live.observed, name: want.name } } };
      }
    }
    return undefined;
  },

  async create(context, want) {
    const output = await createGroup(context, want, want.name);
    await setAttributes(context, output.targetGroupArn, want);
    return output;
  },

  async update(context, want, current, changes) {
    const arn = current.output.targetGroupArn;
    if (changes.some((change) => change.field === 'healthCheck')) await setHealthCheck(context, arn, want);
    if (changes.some((change) => change.field === 'attributes')) await setAttributes(context, arn, want);
    const output: TargetGroupOutput = { ...current.output, configuredName: want.name };
    context.save({ data: output });
    return output;
  },

  /** Create-before-delete, so the site stays up: the engine deletes the old group once nothing uses it. */
  async replace(context, want, current) {
    const liveArn = current.output.targetGroupArn;
    // Recorded before the new group, so a run killed in between still deletes the old one later.
    context.retire(current.output);
    for (const name of replacementNames(want, current.output.name)) {
      const holder = await describe(context, { Names: [name] });
      if (!holder) {
        const output = await createGroup(context, want, name);
        await setAttributes(context, output.targetGroupArn, want);
        return output;
      }
      if (await isLeftover(context, holder, want, liveArn)) {
        const output = toOutput(holder, want.name);
        context.save({ created: true, data: output });
        await setHealthCheck(context, output.targetGroupArn, want);
        await setAttributes(context, output.targetGroupArn, want);
        return output;
      }
    }
    throw nameTaken(want.name, liveArn);
  },

  async delete(context) {
    let arn = context.record?.data.targetGroupArn;
    if (!arn) {
      const named = await describe(context, { Names: [context.record?.data.name ?? context.config.targetGroupName] });
      if (named && (await isOurs(context, named.TargetGroupArn!))) arn = named.TargetGroupArn;
    }
    if (!arn) return;
    const targetGroupArn = arn;
    // A rule or listener that was just deleted or moved can hold the group for a short while.
    await retryWhileInUse(
      context,
      {
        description: `delete target group ${targetGroupArn}`,
        codes: ['ResourceInUseException', 'ResourceInUse'],
        intervalSeconds: 5,
        call: async () => {
          try {
            await context.clients.elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: targetGroupArn }));
          } catch (error) {
            if (!hasErrorCode(error, ...NOT_FOUND)) throw error;
          }
        },
      },
      hasErrorCode,
    );
  },
});
