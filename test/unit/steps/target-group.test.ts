import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetGroupStep } from '../../../src/steps/target-group.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const TG = SAMPLE_OUTPUTS['target-group'];
const VPC = SAMPLE_OUTPUTS.network.vpcId;

const error = (name: string, message = name) => Object.assign(new Error(message), { name });
const notFound = error('TargetGroupNotFoundException', 'One or more target groups not found');
const ourTags = { TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] };
const delay = (value: string) => ({ Attributes: [{ Key: 'stickiness.enabled', Value: 'false' }, { Key: 'deregistration_delay.timeout_seconds', Value: value }] });

function group(overrides: Partial<TargetGroup> = {}): TargetGroup {
  return { TargetGroupArn: TG.targetGroupArn, TargetGroupName: 'ecsauth-tg', Protocol: 'HTTP', Port: 80, TargetType: 'instance', VpcId: VPC, ...overrides };
}

describe('target-group step', () => {
  let harness: StepHarness<'target-group'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's HTTP:80 instance target group in the VPC, tagged, with a 60 s deregistration delay", async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);
    elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('300'));
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    const output = await targetGroupStep.create(harness.context);

    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toEqual({
      Name: 'ecsauth-tg',
      Protocol: 'HTTP',
      Port: 80,
      TargetType: 'instance',
      VpcId: VPC,
      Tags: [
        { Key: 'authecs:stack', Value: 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
      ],
    });
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG.targetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }],
    });
    expect(output).toEqual({ name: 'ecsauth-tg', targetGroupArn: TG.targetGroupArn, targetType: 'instance' });
    expect(harness.state.get('target-group')).toMatchObject({ created: true, data: output });
  });

  it('uses target type ip and the container port under Fargate', async () => {
    harness = stepHarness(targetGroupStep, { config: { launchType: 'FARGATE', containerPort: 8080 } });
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);
    elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group({ TargetType: 'ip', Port: 8080 })] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('60'));

    const output = await targetGroupStep.create(harness.context);

    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toMatchObject({ TargetType: 'ip', Port: 8080 });
    expect(output.targetType).toBe('ip');
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)).toHaveLength(0);
  });

  it('adopts a tagged target group a killed run left, and finishes its deregistration delay', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand, { Names: ['ecsauth-tg'] }).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves(ourTags);
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('300'));
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    // Not finished: the delay is still AWS's default, so find says create() must run.
    expect(await targetGroupStep.find(harness.context)).toBeUndefined();
    const output = await targetGroupStep.create(harness.context);

    expect(output.targetGroupArn).toBe(TG.targetGroupArn);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)).toHaveLength(1);
    expect(harness.state.get('target-group')).toMatchObject({ created: true, data: { targetGroupArn: TG.targetGroupArn } });
  });

  it('find returns the finished target group by its recorded ARN', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DescribeTargetGroupsCommand, { TargetGroupArns: [TG.targetGroupArn] }).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('60'));

    expect(await targetGroupStep.find(harness.context)).toEqual({ created: true, output: TG });
    expect(elbv2.commandCalls(DescribeTagsCommand)).toHaveLength(0);
  });

  it('refuses a same-named target group that is not ours, naming --target-group-name', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [{ Key: 'team', Value: 'other' }] }] });

    await expect(targetGroupStep.create(harness.context)).rejects.toMatchObject({
      code: 'TARGET_GROUP_NAME_TAKEN',
      exit: 'conflict',
      hint: expect.stringContaining('--target-group-name'),
    });
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
  });

  it('maps DuplicateTargetGroupName from the create call to the same conflict', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);
    elbv2.on(CreateTargetGroupCommand).rejects(error('DuplicateTargetGroupNameException', 'A target group with the specified name already exists.'));

    await expect(targetGroupStep.create(harness.context)).rejects.toMatchObject({ code: 'TARGET_GROUP_NAME_TAKEN', exit: 'conflict' });
  });

  it('refuses to reuse our target group when its target type no longer fits the launch type', async () => {
    harness = stepHarness(targetGroupStep, { config: { launchType: 'FARGATE' }, record: { created: true, complete: true, data: TG } });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('60'));

    expect(await targetGroupStep.find(harness.context)).toBeUndefined();
    await expect(targetGroupStep.create(harness.context)).rejects.toMatchObject({ code: 'TARGET_GROUP_MISMATCH', exit: 'conflict' });
  });

  it('delete removes the recorded target group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DeleteTargetGroupCommand).resolves({});

    await targetGroupStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteTargetGroupCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TG.targetGroupArn });
  });

  it('delete waits while a rule is still releasing the target group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    const inUse = error('ResourceInUseException', `The target group '${TG.targetGroupArn}' is currently in use by a listener or a rule`);
    elbv2.on(DeleteTargetGroupCommand).rejectsOnce(inUse).rejectsOnce(inUse).resolves({});

    await targetGroupStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(3);
  });

  it('delete treats an already-deleted target group as done, even after waiting', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DeleteTargetGroupCommand).rejectsOnce(error('ResourceInUseException')).rejects(notFound);

    await expect(targetGroupStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(2);
  });

  it('delete times out if the target group stays in use', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG }, config: { waitTimeoutMinutes: 1 } });
    elbv2.on(DeleteTargetGroupCommand).rejects(error('ResourceInUseException', 'in use by a rule'));

    await expect(targetGroupStep.delete(harness.context)).rejects.toMatchObject({ exit: 'timeout', message: expect.stringContaining('in use by a rule') });
  });

  it('delete without a recorded ARN deletes only our tagged group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: false, data: { name: 'ecsauth-tg' } } });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [] }] });

    await targetGroupStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
  });

  it('inspect reports a missing target group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);

    expect(await targetGroupStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('inspect is healthy when the desired count of targets are healthy', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('60'));
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: 'i-0123456789abcdef1', Port: 80 }, TargetHealth: { State: 'healthy' } },
      ],
    });

    const inspection = await targetGroupStep.inspect(harness.context);

    expect(inspection).toMatchObject({ present: true, healthy: true, summary: '2/2 healthy', drift: [] });
    expect(inspection.details?.targets).toEqual([
      { id: 'i-0123456789abcdef0', port: 80, state: 'healthy' },
      { id: 'i-0123456789abcdef1', port: 80, state: 'healthy' },
    ]);
  });

  it('inspect is unhealthy with fewer healthy targets than desired, and reports delay drift', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: TG } });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('300'));
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: 'i-0123456789abcdef1', Port: 80 }, TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' } },
      ],
    });

    const inspection = await targetGroupStep.inspect(harness.context);

    expect(inspection).toMatchObject({ present: true, healthy: false, summary: '1/2 healthy' });
    expect(inspection.drift).toEqual(['deregistration delay is 300s, not 60s']);
    expect(inspection.details?.targets).toContainEqual({ id: 'i-0123456789abcdef1', port: 80, state: 'unhealthy', reason: 'Target.ResponseCodeMismatch' });
  });
});
