import { CreateClusterCommand, DeleteClusterCommand, DescribeClustersCommand, type Cluster } from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { retryWhileInUse } from '../engine/poll.js';
import { AuthecsError } from '../errors.js';
import type { ClusterOutput } from './outputs.js';
import { defineStep, hasStackTag, stackTags, type StepContext } from './step.js';

type Context = StepContext<'cluster'>;

// DeleteCluster refuses while services, container instances or tasks remain (aws-behaviour.md);
// the service and capacity steps delete theirs first, so these clear within moments.
const CLUSTER_IN_USE_CODES = ['ClusterContainsServicesException', 'ClusterContainsContainerInstancesException', 'ClusterContainsTasksException'];
const DELETE_RETRY_SECONDS = 10;

/** ECS spells its tags {key, value}. */
export function ecsStackTags(stack: string): { key: string; value: string }[] {
  return stackTags(stack).map((tag) => ({ key: tag.Key, value: tag.Value }));
}

async function describeCluster(context: Context, name: string): Promise<Cluster | undefined> {
  try {
    const response = await context.clients.ecs.send(new DescribeClustersCommand({ clusters: [name], include: ['TAGS'] }));
    return response.clusters?.find((cluster) => cluster.clusterName === name || cluster.clusterArn === name);
  } catch (error) {
    if (hasErrorCode(error, 'ClusterNotFoundException')) return undefined;
    throw error;
  }
}

function toOutput(cluster: Cluster): ClusterOutput {
  return { clusterName: cluster.clusterName!, clusterArn: cluster.clusterArn! };
}

/**
 * The live ACTIVE cluster if it is ours; undefined when it is missing or INACTIVE (CreateCluster
 * then makes or revives it). CreateCluster on an ACTIVE name silently replaces its tags, so an
 * untagged ACTIVE cluster must be refused before any create call.
 */
async function locate(context: Context): Promise<Cluster | undefined> {
  const name = context.config.cluster;
  const cluster = await describeCluster(context, name);
  if (!cluster || cluster.status !== 'ACTIVE') return undefined;
  const recorded = context.record?.data.clusterArn !== undefined && context.record.data.clusterArn === cluster.clusterArn;
  if (recorded || hasStackTag(cluster.tags, context.stack)) return cluster;
  throw new AuthecsError(`An ECS cluster named "${name}" already exists and was not created by authecs`, {
    code: 'CLUSTER_NAME_TAKEN',
    exit: 'conflict',
    resource: cluster.clusterArn,
    hint: 'Pass --cluster (or AUTH_ECS_CLUSTER) with another name; it also names the whole stack.',
  });
}

export const clusterStep = defineStep({
  name: 'cluster',
  title: 'ECS cluster',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: [],

  async preflight(context) {
    await locate(context);
  },

  async find(context) {
    const cluster = await locate(context);
    return cluster ? { output: toOutput(cluster), created: true } : undefined;
  },

  async create(context) {
    const existing = await locate(context);
    if (existing) {
      const output = toOutput(existing);
      context.save({ created: true, data: output });
      return output;
    }
    const response = await context.clients.ecs.send(new CreateClusterCommand({ clusterName: context.config.cluster, tags: ecsStackTags(context.stack) }));
    const output = toOutput(response.cluster!);
    context.save({ created: true, data: output });
    return output;
  },

  async delete(context) {
    const name = context.record?.data.clusterName ?? context.config.cluster;
    await retryWhileInUse(
      context,
      {
        description: `delete the ECS cluster ${name}`,
        codes: CLUSTER_IN_USE_CODES,
        intervalSeconds: DELETE_RETRY_SECONDS,
        call: async () => {
          try {
            await context.clients.ecs.send(new DeleteClusterCommand({ cluster: name }));
          } catch (error) {
            if (hasErrorCode(error, 'ClusterNotFoundException')) return;
            throw error;
          }
        },
      },
      hasErrorCode,
    );
  },

  async inspect(context) {
    const name = context.record?.data.clusterName ?? context.config.cluster;
    const cluster = await describeCluster(context, name);
    if (!cluster || cluster.status === 'INACTIVE') return { present: false, healthy: false, summary: 'missing' };
    const status = cluster.status ?? 'unknown';
    return {
      present: true,
      healthy: status === 'ACTIVE',
      summary: status,
      details: {
        registeredContainerInstancesCount: cluster.registeredContainerInstancesCount,
        runningTasksCount: cluster.runningTasksCount,
        activeServicesCount: cluster.activeServicesCount,
      },
    };
  },
});
