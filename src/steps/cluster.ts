import { CreateClusterCommand, DeleteClusterCommand, DescribeClustersCommand, type Cluster } from '@aws-sdk/client-ecs';
import { hasErrorCode } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { ClusterOutput } from './outputs.js';
import { defineResource, type Live, type ReadContext } from './resource.js';
import { retryWhileInUse } from './shared/poll.js';
import { ECS_SERVICE_LINKED_ROLE, ensureServiceLinkedRole, serviceLinkedRoleState } from './shared/service-linked-role.js';
import { ecsStackTags, hasStackTag } from './shared/tags.js';
import type { StepContext } from './step.js';

type Context = StepContext<'cluster'>;

// DeleteCluster refuses while services, container instances or tasks remain (aws-behaviour.md);
// the service and capacity steps delete theirs first, so these clear within moments.
const CLUSTER_IN_USE_CODES = ['ClusterContainsServicesException', 'ClusterContainsContainerInstancesException', 'ClusterContainsTasksException'];
const DELETE_RETRY_SECONDS = 10;

export interface DesiredCluster {
  clusterName: string;
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
  const name = context.record?.data.clusterName ?? context.config.cluster;
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

function live(cluster: Cluster): Live<'cluster', DesiredCluster> {
  const status = cluster.status ?? 'unknown';
  return {
    output: toOutput(cluster),
    observed: { clusterName: cluster.clusterName! },
    created: true,
    health: {
      healthy: status === 'ACTIVE',
      summary: status,
      details: {
        registeredContainerInstancesCount: cluster.registeredContainerInstancesCount,
        runningTasksCount: cluster.runningTasksCount,
        activeServicesCount: cluster.activeServicesCount,
      },
    },
  };
}

export const clusterStep = defineResource<'cluster', DesiredCluster>({
  name: 'cluster',
  title: 'ECS cluster',
  articleSection: 'Configure the Amazon EC2 key pair and bring up the ECS cluster',
  dependsOn: [],

  // The cluster's name is the stack's name, which also names the state file: it cannot change.
  desired: (config) => ({ clusterName: config.cluster }),
  effects: { clusterName: 'replace' },

  async preflight(context: ReadContext<'cluster'>) {
    await locate(context);
    // Read-only: whether the caller may create a missing role is only known by trying, so it is a planned action.
    const role = await serviceLinkedRoleState(context);
    if (role === 'missing') context.progress(`the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE} does not exist yet: it will be created before the cluster`);
    if (role === 'unknown') context.progress(`cannot check the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE} (iam:GetRole denied); ECS creates it with the cluster if the caller may`);
  },

  async read(context) {
    const cluster = await locate(context);
    return cluster ? live(cluster) : undefined;
  },

  async create(context, want) {
    // CreateCluster makes the role only when the caller may; CreateService needs it (ECS API Reference, CreateCluster).
    await ensureServiceLinkedRole(context);
    const response = await context.clients.ecs.send(new CreateClusterCommand({ clusterName: want.clusterName, tags: ecsStackTags(context.stack) }));
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
});
