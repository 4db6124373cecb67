import { CreateClusterCommand, DeleteClusterCommand, DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { CreateServiceLinkedRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterStep } from '../../../src/steps/cluster.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const ecs = mockClient(ECSClient);
const iam = mockClient(IAMClient);
const ROLE = { RoleName: 'AWSServiceRoleForECS', Path: '/aws-service-role/ecs.amazonaws.com/', RoleId: 'AROAEXAMPLE', Arn: 'arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS', CreateDate: new Date() };
const noSuchRole = () => codeError('NoSuchEntityException', 'The role with name AWSServiceRoleForECS cannot be found.');
const ARN = SAMPLE_OUTPUTS.cluster.clusterArn;
const ourTags = [
  { key: 'authecs:stack', value: 'ecsauth' },
  { key: 'managed-by', value: 'authecs' },
];
const activeCluster = (tags = ourTags) => ({
  clusterName: 'ecsauth',
  clusterArn: ARN,
  status: 'ACTIVE',
  tags,
  registeredContainerInstancesCount: 2,
  runningTasksCount: 2,
  activeServicesCount: 1,
});
const missing = { clusters: [], failures: [{ arn: ARN, reason: 'MISSING' }] };
const codeError = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('cluster step', () => {
  let harness: StepHarness<'cluster'>;
  beforeEach(() => {
    ecs.reset();
    iam.reset();
    iam.on(GetRoleCommand).resolves({ Role: ROLE });
  });
  afterEach(() => harness?.cleanup());

  it('creates the article\'s cluster (named after AUTH_ECS_CLUSTER), tagged in the create call, and records it', async () => {
    harness = stepHarness(clusterStep);
    ecs.on(DescribeClustersCommand).resolves(missing);
    ecs.on(CreateClusterCommand).resolves({ cluster: activeCluster() });

    expect(await clusterStep.read(harness.readContext)).toBeUndefined();
    const output = await clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(DescribeClustersCommand)[0]!.args[0].input).toEqual({ clusters: ['ecsauth'], include: ['TAGS'] });
    const create = ecs.commandCalls(CreateClusterCommand)[0]!.args[0].input;
    expect(create.clusterName).toBe('ecsauth');
    expect(create.tags).toEqual(ourTags);
    expect(output).toEqual({ clusterName: 'ecsauth', clusterArn: ARN });
    expect(harness.state.get('cluster')).toMatchObject({ created: true, data: { clusterName: 'ecsauth', clusterArn: ARN } });
  });

  it('uses --cluster for the name', async () => {
    harness = stepHarness(clusterStep, { config: { cluster: 'other' } });
    ecs.on(DescribeClustersCommand).resolves(missing);
    ecs.on(CreateClusterCommand).resolves({ cluster: { ...activeCluster(), clusterName: 'other', clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/other' } });

    await clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateClusterCommand)[0]!.args[0].input).toMatchObject({ clusterName: 'other', tags: [{ key: 'authecs:stack', value: 'other' }, expect.anything()] });
  });

  it('revives an INACTIVE cluster of the same name with CreateCluster (read finds nothing to adopt)', async () => {
    harness = stepHarness(clusterStep);
    ecs.on(DescribeClustersCommand).resolves({ clusters: [{ ...activeCluster([]), status: 'INACTIVE' }] });
    ecs.on(CreateClusterCommand).resolves({ cluster: activeCluster() });

    expect(await clusterStep.read(harness.readContext)).toBeUndefined();
    await clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs));

    expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(1);
  });

  it('adopts a tagged ACTIVE cluster left by a killed run, with no create call', async () => {
    harness = stepHarness(clusterStep);
    ecs.on(DescribeClustersCommand).resolves({ clusters: [activeCluster()] });

    const found = await clusterStep.read(harness.readContext);
    expect(found).toMatchObject({ created: true, output: { clusterName: 'ecsauth', clusterArn: ARN }, observed: { clusterName: 'ecsauth' } });
    expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(0);
  });

  it('refuses an ACTIVE cluster without our tag (CreateCluster would silently retag it)', async () => {
    harness = stepHarness(clusterStep);
    ecs.on(DescribeClustersCommand).resolves({ clusters: [activeCluster([{ key: 'team', value: 'payments' }])] });

    await expect(clusterStep.read(harness.readContext)).rejects.toMatchObject({ code: 'CLUSTER_NAME_TAKEN', exit: 'conflict', hint: expect.stringContaining('--cluster') });
    await expect(clusterStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'CLUSTER_NAME_TAKEN', exit: 'conflict' });
    expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(0);
  });

  it('treats the recorded cluster as ours even when its tags were stripped', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs.on(DescribeClustersCommand).resolves({ clusters: [activeCluster([])] });

    expect(await clusterStep.read(harness.readContext)).toMatchObject({ created: true });
  });

  it('delete treats an unknown cluster as already deleted', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs.on(DeleteClusterCommand).rejects(codeError('ClusterNotFoundException', 'Cluster not found.'));

    await expect(clusterStep.delete(harness.context)).resolves.toBeUndefined();
    expect(ecs.commandCalls(DeleteClusterCommand)[0]!.args[0].input).toEqual({ cluster: 'ecsauth' });
  });

  it('delete waits out services and container instances that are still going', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs
      .on(DeleteClusterCommand)
      .rejectsOnce(codeError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.'))
      .rejectsOnce(codeError('ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.'))
      .rejectsOnce(codeError('ClusterContainsTasksException', 'The Cluster cannot be deleted while Tasks are active.'))
      .resolves({ cluster: { ...activeCluster(), status: 'INACTIVE' } });

    await clusterStep.delete(harness.context);

    expect(ecs.commandCalls(DeleteClusterCommand)).toHaveLength(4);
  });

  it('delete does not swallow other errors', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs.on(DeleteClusterCommand).rejects(codeError('AccessDeniedException'));

    await expect(clusterStep.delete(harness.context)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(ecs.commandCalls(DeleteClusterCommand)).toHaveLength(1);
  });

  it('read reports an ACTIVE cluster with its counters as its health', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs.on(DescribeClustersCommand).resolves({ clusters: [activeCluster()] });

    expect((await clusterStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: 'ACTIVE',
      details: { registeredContainerInstancesCount: 2, runningTasksCount: 2, activeServicesCount: 1 },
    });
  });

  it('read finds nothing for a missing or INACTIVE cluster', async () => {
    harness = stepHarness(clusterStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS.cluster } });
    ecs.on(DescribeClustersCommand).resolvesOnce(missing).resolves({ clusters: [{ ...activeCluster(), status: 'INACTIVE' }] });

    expect(await clusterStep.read(harness.readContext)).toBeUndefined();
    expect(await clusterStep.read(harness.readContext)).toBeUndefined();
  });

  // ECS API Reference, CreateCluster: the service-linked role is made only when the caller may;
  // CreateService then fails "Unable to assume the service linked role" (openemr/openemr-on-ecs#8).
  describe('service-linked role (ECS API Reference, CreateCluster; openemr/openemr-on-ecs#8)', () => {
    it('creates AWSServiceRoleForECS before CreateCluster when GetRole says it is missing (a new account)', async () => {
      harness = stepHarness(clusterStep);
      iam.on(GetRoleCommand).rejects(noSuchRole());
      iam.on(CreateServiceLinkedRoleCommand).resolves({ Role: ROLE });
      let clusterCallsAtRole = -1;
      iam.on(CreateServiceLinkedRoleCommand).callsFake(() => {
        clusterCallsAtRole = ecs.commandCalls(CreateClusterCommand).length;
        return { Role: ROLE };
      });
      ecs.on(CreateClusterCommand).resolves({ cluster: activeCluster() });

      await clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs));

      expect(iam.commandCalls(GetRoleCommand)[0]!.args[0].input).toEqual({ RoleName: 'AWSServiceRoleForECS' });
      expect(iam.commandCalls(CreateServiceLinkedRoleCommand)[0]!.args[0].input).toEqual({ AWSServiceName: 'ecs.amazonaws.com' });
      expect(clusterCallsAtRole).toBe(0);
      expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(1);
    });

    it('makes no role when it exists', async () => {
      harness = stepHarness(clusterStep);
      ecs.on(CreateClusterCommand).resolves({ cluster: activeCluster() });

      await clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs));

      expect(iam.commandCalls(CreateServiceLinkedRoleCommand)).toHaveLength(0);
    });

    it('treats InvalidInput "has been taken in this account" (made meanwhile) as the role being there', async () => {
      harness = stepHarness(clusterStep);
      iam.on(GetRoleCommand).rejects(noSuchRole());
      iam.on(CreateServiceLinkedRoleCommand).rejects(codeError('InvalidInputException', 'Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix.'));
      ecs.on(CreateClusterCommand).resolves({ cluster: activeCluster() });

      await expect(clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs))).resolves.toMatchObject({ clusterName: 'ecsauth' });
    });

    it('does not hide a refused CreateServiceLinkedRole (missing iam:CreateServiceLinkedRole)', async () => {
      harness = stepHarness(clusterStep);
      iam.on(GetRoleCommand).rejects(noSuchRole());
      iam.on(CreateServiceLinkedRoleCommand).rejects(codeError('AccessDenied', 'not authorized to perform: iam:CreateServiceLinkedRole'));

      await expect(clusterStep.create(harness.context, clusterStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ name: 'AccessDenied' });
      expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(0);
    });

    it('preflight reports a missing role as a planned creation, not a failure, and creates nothing', async () => {
      harness = stepHarness(clusterStep);
      ecs.on(DescribeClustersCommand).resolves(missing);
      iam.on(GetRoleCommand).rejects(noSuchRole());
      const notes: string[] = [];
      harness.readContext.progress = (message) => notes.push(message);

      await expect(clusterStep.preflight!(harness.readContext)).resolves.toBeUndefined();

      expect(notes).toEqual([expect.stringContaining('AWSServiceRoleForECS does not exist yet: it will be created')]);
      expect(iam.commandCalls(CreateServiceLinkedRoleCommand)).toHaveLength(0);
      expect(ecs.commandCalls(CreateClusterCommand)).toHaveLength(0);
    });

    it('preflight says nothing when the role exists', async () => {
      harness = stepHarness(clusterStep);
      ecs.on(DescribeClustersCommand).resolves(missing);
      const notes: string[] = [];
      harness.readContext.progress = (message) => notes.push(message);

      await clusterStep.preflight!(harness.readContext);

      expect(notes).toEqual([]);
    });
  });
});
