import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Config } from '../config/schema.js';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from './shared/poll.js';
import { AuthecsError } from '../errors.js';
import type { TargetGroupOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'target-group'>;

export const DEREGISTRATION_DELAY_KEY = 'deregistration_delay.timeout_seconds';
// Copilot's value: tasks drain in a minute instead of AWS's default five, so deploys and `down` are faster.
export const DEREGISTRATION_DELAY_SECONDS = '60';

const NOT_FOUND = ['TargetGroupNotFoundException', 'TargetGroupNotFound'];

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

/** Settings that cannot change on a live target group. */
function immutableDrift(group: TargetGroup, config: Config, vpcId: string | undefined): string[] {
  const drift: string[] = [];
  const targetType = targetTypeFor(config);
  if (group.TargetType !== targetType) drift.push(`target type is ${group.TargetType ?? 'unset'}, not ${targetType} (launch type ${config.launchType})`);
  if (group.Port !== config.containerPort) drift.push(`port is ${group.Port ?? 'unset'}, not ${config.containerPort}`);
  if (group.Protocol !== 'HTTP') drift.push(`protocol is ${group.Protocol ?? 'unset'}, not HTTP`);
  if (vpcId && group.VpcId !== vpcId) drift.push(`VPC is ${group.VpcId ?? 'unset'}, not ${vpcId}`);
  return drift;
}

async function deregistrationDelay(context: Context, arn: string): Promise<string | undefined> {
  const response = await context.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
  return response.Attributes?.find((attribute) => attribute.Key === DEREGISTRATION_DELAY_KEY)?.Value;
}

function toOutput(group: TargetGroup, config: Config): TargetGroupOutput {
  return { name: group.TargetGroupName ?? config.targetGroupName, targetGroupArn: group.TargetGroupArn!, targetType: group.TargetType === 'ip' ? 'ip' : targetTypeFor(config) };
}

export const targetGroupStep = defineStep({
  name: 'target-group',
  title: 'Target group',
  articleSection: 'Create and configure a target group for the ALB',
  dependsOn: ['network'],

  async preflight(context) {
    await locate(context);
  },

  async find(context) {
    const group = await locate(context);
    if (!group) return undefined;
    if (immutableDrift(group, context.config, context.output('network').vpcId).length > 0) return undefined;
    if ((await deregistrationDelay(context, group.TargetGroupArn!)) !== DEREGISTRATION_DELAY_SECONDS) return undefined;
    return { output: toOutput(group, context.config), created: true };
  },

  async create(context) {
    const { config } = context;
    const { vpcId } = context.output('network');
    let group = await locate(context);

    if (group) {
      const drift = immutableDrift(group, config, vpcId);
      if (drift.length > 0) {
        throw new AuthecsError(`Target group ${group.TargetGroupName} does not match the settings (${drift.join('; ')}) and these cannot be changed in place`, {
          code: 'TARGET_GROUP_MISMATCH',
          exit: 'conflict',
          resource: group.TargetGroupArn,
          hint: 'Run `authecs down` and then `authecs up` to rebuild it, or pass --target-group-name with a new name.',
        });
      }
      context.save({ created: true, data: toOutput(group, config) });
    } else {
      try {
        const response = await context.clients.elbv2.send(
          new CreateTargetGroupCommand({
            Name: config.targetGroupName,
            Protocol: 'HTTP',
            Port: config.containerPort,
            TargetType: targetTypeFor(config),
            VpcId: vpcId,
            // Health check: AWS defaults, as in the article.
            Tags: stackTags(context.stack),
          }),
        );
        group = response.TargetGroups![0]!;
      } catch (error) {
        // A same-named group appeared between our look and the create: not ours.
        if (hasErrorCode(error, 'DuplicateTargetGroupNameException', 'DuplicateTargetGroupName')) throw nameTaken(config.targetGroupName, undefined, error);
        throw error;
      }
      context.save({ created: true, data: toOutput(group, config) });
    }

    const arn = group.TargetGroupArn!;
    if ((await deregistrationDelay(context, arn)) !== DEREGISTRATION_DELAY_SECONDS) {
      await context.clients.elbv2.send(
        new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes: [{ Key: DEREGISTRATION_DELAY_KEY, Value: DEREGISTRATION_DELAY_SECONDS }] }),
      );
    }
    return toOutput(group, config);
  },

  async delete(context) {
    let arn = context.record?.data.targetGroupArn;
    if (!arn) {
      const named = await describe(context, { Names: [context.record?.data.name ?? context.config.targetGroupName] });
      if (named && (await isOurs(context, named.TargetGroupArn!))) arn = named.TargetGroupArn;
    }
    if (!arn) return;
    const targetGroupArn = arn;
    // A rule or listener that was just deleted can hold the group for a short while.
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

  async inspect(context) {
    const arn = context.record?.data.targetGroupArn;
    const group = arn ? await describe(context, { TargetGroupArns: [arn] }) : undefined;
    if (!group) return { present: false, healthy: false, summary: 'missing' };
    const health = await context.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn! }));
    const targets = (health.TargetHealthDescriptions ?? []).map((description) => ({
      id: description.Target?.Id,
      port: description.Target?.Port,
      state: description.TargetHealth?.State ?? 'unknown',
      ...(description.TargetHealth?.Reason ? { reason: description.TargetHealth.Reason } : {}),
    }));
    const healthyCount = targets.filter((target) => target.state === 'healthy').length;
    const desired = context.config.desiredCount;
    const vpcId = context.hasOutput('network') ? context.output('network').vpcId : undefined;
    const drift = immutableDrift(group, context.config, vpcId);
    const delay = await deregistrationDelay(context, group.TargetGroupArn!);
    if (delay !== DEREGISTRATION_DELAY_SECONDS) drift.push(`deregistration delay is ${delay ?? 'unset'}s, not ${DEREGISTRATION_DELAY_SECONDS}s`);
    return {
      present: true,
      healthy: healthyCount >= desired,
      summary: `${healthyCount}/${desired} healthy`,
      drift,
      details: { targets },
    };
  },
});
