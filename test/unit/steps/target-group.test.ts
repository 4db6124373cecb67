import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { healthCheckOf, replacementNames, targetGroupStep } from '../../../src/steps/target-group.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const TG = SAMPLE_OUTPUTS['target-group'];
const VPC = SAMPLE_OUTPUTS.network.vpcId;
const RECORD = { ...TG, configuredName: 'ecsauth-tg' };

const error = (name: string, message = name) => Object.assign(new Error(message), { name });
const notFound = error('TargetGroupNotFoundException', 'One or more target groups not found');
const ourTags = { TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] };
const delay = (value: string) => ({ Attributes: [{ Key: 'stickiness.enabled', Value: 'false' }, { Key: 'deregistration_delay.timeout_seconds', Value: value }] });
const healthy = { TargetHealthDescriptions: [] };

/** A target group as DescribeTargetGroups returns it, with authecs's default health check (10 s, 2 healthy, 2 unhealthy). */
function group(overrides: Partial<TargetGroup> = {}): TargetGroup {
  return {
    TargetGroupArn: TG.targetGroupArn,
    TargetGroupName: 'ecsauth-tg',
    Protocol: 'HTTP',
    Port: 80,
    TargetType: 'instance',
    VpcId: VPC,
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckPath: '/',
    HealthCheckIntervalSeconds: 10,
    HealthCheckTimeoutSeconds: 5,
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 2,
    Matcher: { HttpCode: '200' },
    ...overrides,
  };
}

/** The ALB's own defaults, which authecs sent before 10 s and 2 (ALB user guide, "Health checks for your target groups"). */
const ALB_DEFAULT_HEALTH_CHECK: Partial<TargetGroup> = { HealthCheckIntervalSeconds: 30, HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2 };

const HEALTH_CHECK_INPUT = {
  HealthCheckProtocol: 'HTTP',
  HealthCheckPort: 'traffic-port',
  HealthCheckPath: '/',
  HealthCheckIntervalSeconds: 10,
  HealthCheckTimeoutSeconds: 5,
  HealthyThresholdCount: 2,
  UnhealthyThresholdCount: 2,
  Matcher: { HttpCode: '200' },
};

/** The recorded group is live, healthy and as up wants it. */
function liveAsRecorded(overrides: Partial<TargetGroup> = {}, delaySeconds = '60'): void {
  elbv2.on(DescribeTargetGroupsCommand, { TargetGroupArns: [TG.targetGroupArn] }).resolves({ TargetGroups: [group(overrides)] });
  elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay(delaySeconds));
  elbv2.on(DescribeTargetHealthCommand).resolves(healthy);
}

describe('target-group step', () => {
  let harness: StepHarness<'target-group'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's HTTP:80 instance target group in the VPC, tagged, with the default health check and a 60 s deregistration delay", async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);
    elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    expect(await targetGroupStep.read(harness.readContext)).toBeUndefined();
    const output = await targetGroupStep.create(harness.context, targetGroupStep.desired(harness.config, harness.inputs));

    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toEqual({
      Name: 'ecsauth-tg',
      Protocol: 'HTTP',
      Port: 80,
      TargetType: 'instance',
      VpcId: VPC,
      ...HEALTH_CHECK_INPUT,
      Tags: [
        { Key: 'authecs:stack', Value: 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
      ],
    });
    // The defaults: a check every 10 s, healthy after 2 passes, unhealthy after 2 failures, 5 s timeout.
    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toMatchObject({
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    });
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG.targetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }],
    });
    expect(output).toEqual(RECORD);
    expect(harness.state.get('target-group')).toMatchObject({ created: true, data: output });
  });

  it('a group made with the ALB defaults (30 s, 5 healthy) gets the new health check in place: ModifyTargetGroup, no replacement', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded(ALB_DEFAULT_HEALTH_CHECK);
    elbv2.on(ModifyTargetGroupCommand).resolves({});
    const found = (await targetGroupStep.read(harness.readContext))!;
    const want = targetGroupStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found.observed, targetGroupStep.effects);

    expect(changes.map((change) => [change.field, change.effect])).toEqual([['healthCheck', 'update']]);
    await targetGroupStep.update!(harness.context, want, found, changes);

    expect(elbv2.commandCalls(ModifyTargetGroupCommand).map((call) => call.args[0].input)).toEqual([{ TargetGroupArn: TG.targetGroupArn, ...HEALTH_CHECK_INPUT }]);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
  });

  it('uses target type ip and the container port under Fargate', async () => {
    harness = stepHarness(targetGroupStep, { config: { launchType: 'FARGATE', containerPort: 8080 } });
    elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group({ TargetType: 'ip', Port: 8080 })] });
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    const output = await targetGroupStep.create(harness.context, targetGroupStep.desired(harness.config, harness.inputs));

    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toMatchObject({ TargetType: 'ip', Port: 8080 });
    expect(output.targetType).toBe('ip');
  });

  it('read adopts a tagged target group a killed run left, without writing; the diff finishes its deregistration delay', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand, { Names: ['ecsauth-tg'] }).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves(ourTags);
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('300'));
    elbv2.on(DescribeTargetHealthCommand).resolves(healthy);

    const found = await targetGroupStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: RECORD });
    expect(harness.state.get('target-group')).toBeUndefined();
    expect(diffFields(targetGroupStep.desired(harness.config, harness.inputs), found!.observed, targetGroupStep.effects)).toEqual([
      { field: 'attributes', from: { 'deregistration_delay.timeout_seconds': '300' }, to: { 'deregistration_delay.timeout_seconds': '60' }, effect: 'update' },
    ]);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
  });

  it('reads the recorded target group by ARN, with no tag look-up, and it matches what up wants', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded();

    const found = await targetGroupStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: RECORD });
    expect(elbv2.commandCalls(DescribeTagsCommand)).toHaveLength(0);
    expect(diffFields(targetGroupStep.desired(harness.config, harness.inputs), found!.observed, targetGroupStep.effects)).toEqual([]);
  });

  it('refuses a same-named target group that is not ours, naming --target-group-name', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [{ Key: 'team', Value: 'other' }] }] });

    await expect(targetGroupStep.read(harness.readContext)).rejects.toMatchObject({
      code: 'TARGET_GROUP_NAME_TAKEN',
      exit: 'conflict',
      hint: expect.stringContaining('--target-group-name'),
    });
    await expect(targetGroupStep.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'TARGET_GROUP_NAME_TAKEN' });
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
  });

  it('maps DuplicateTargetGroupName from the create call to the same conflict when the group is not ours', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(CreateTargetGroupCommand).rejects(error('DuplicateTargetGroupNameException', 'A target group with the specified name already exists.'));
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: TG.targetGroupArn, Tags: [{ Key: 'team', Value: 'other' }] }] });

    await expect(targetGroupStep.create(harness.context, targetGroupStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'TARGET_GROUP_NAME_TAKEN', exit: 'conflict' });
  });

  it('a duplicate name that is our own group (the retry after a lost answer; CreateTargetGroup is idempotent on AWS) is adopted, not a conflict', async () => {
    harness = stepHarness(targetGroupStep);
    elbv2.on(CreateTargetGroupCommand).rejects(error('DuplicateTargetGroupNameException', 'A target group with the specified name already exists.'));
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group()] });
    elbv2.on(DescribeTagsCommand).resolves(ourTags);

    const output = await targetGroupStep.create(harness.context, targetGroupStep.desired(harness.config, harness.inputs));
    expect(output).toMatchObject({ targetGroupArn: TG.targetGroupArn, name: 'ecsauth-tg' });
    expect(harness.state.get('target-group')).toMatchObject({ created: true, data: { targetGroupArn: TG.targetGroupArn } });
  });

  it('desired: the VPC is unknown while the network is to be made', () => {
    harness = stepHarness(targetGroupStep);

    expect(targetGroupStep.desired(harness.config, { network: UNKNOWN })).toEqual({
      name: 'ecsauth-tg',
      port: 80,
      protocol: 'HTTP',
      targetType: 'instance',
      vpcId: UNKNOWN,
      healthCheck: { protocol: 'HTTP', port: 'traffic-port', path: '/', intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200' },
      attributes: { 'deregistration_delay.timeout_seconds': '60' },
    });
  });

  it('diff: a drifted health check is an update; Fargate, a new port, name or VPC need a new target group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded({ HealthCheckPath: '/healthz', HealthyThresholdCount: 5 });
    const found = await targetGroupStep.read(harness.readContext);
    const diff = (config: Parameters<typeof articleConfig>[0], inputs = harness.inputs) =>
      diffFields(targetGroupStep.desired(articleConfig(config), inputs), found!.observed, targetGroupStep.effects).map((change) => [change.field, change.from, change.to, change.effect]);

    const [healthCheck] = diff({});
    expect(healthCheck).toEqual(['healthCheck', expect.objectContaining({ path: '/healthz', healthyThreshold: 5 }), expect.objectContaining({ path: '/', healthyThreshold: 2 }), 'update']);
    expect(diff({ launchType: 'FARGATE', containerPort: 8080, targetGroupName: 'other-tg' })).toEqual([
      ['name', 'ecsauth-tg', 'other-tg', 'replace'],
      ['port', 80, 8080, 'replace'],
      ['targetType', 'instance', 'ip', 'replace'],
      healthCheck,
    ]);
    expect(diff({}, { network: UNKNOWN })).toContainEqual(['vpcId', VPC, UNKNOWN, 'replace']);
  });

  it('update puts back the health check with ModifyTargetGroup only, and creates nothing', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded({ HealthCheckPath: '/healthz', Matcher: { HttpCode: '200-399' } });
    elbv2.on(ModifyTargetGroupCommand).resolves({});

    const found = await targetGroupStep.read(harness.readContext);
    const want = targetGroupStep.desired(harness.config, harness.inputs);
    const output = await targetGroupStep.update!(harness.context, want, found!, diffFields(want, found!.observed, targetGroupStep.effects));

    expect(elbv2.commandCalls(ModifyTargetGroupCommand)).toHaveLength(1);
    expect(elbv2.commandCalls(ModifyTargetGroupCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TG.targetGroupArn, ...HEALTH_CHECK_INPUT });
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
    expect(output).toEqual(RECORD);
  });

  describe('health check settings', () => {
    const CUSTOM = { healthCheckPath: '/healthz', healthCheckIntervalSeconds: 15, healthyThreshold: 3, unhealthyThreshold: 4, healthCheckMatcher: '200-299' };
    const CUSTOM_INPUT = {
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: 'traffic-port',
      HealthCheckPath: '/healthz',
      HealthCheckIntervalSeconds: 15,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 3,
      UnhealthyThresholdCount: 4,
      Matcher: { HttpCode: '200-299' },
    };

    it('CreateTargetGroup sends --health-check-path, interval, thresholds and matcher; timeout 5 s under a 15 s interval', async () => {
      harness = stepHarness(targetGroupStep, { config: CUSTOM });
      elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);
      elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group({ HealthCheckPath: '/healthz' })] });
      elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

      await targetGroupStep.create(harness.context, targetGroupStep.desired(harness.config, harness.inputs));

      expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toEqual({
        Name: 'ecsauth-tg',
        Protocol: 'HTTP',
        Port: 80,
        TargetType: 'instance',
        VpcId: VPC,
        ...CUSTOM_INPUT,
        Tags: [
          { Key: 'authecs:stack', Value: 'ecsauth' },
          { Key: 'managed-by', Value: 'authecs' },
        ],
      });
    });

    it('the timeout stays below the interval: 4 s at the 5 s minimum, else 5 s', () => {
      const timeoutFor = (healthCheckIntervalSeconds: number) => healthCheckOf(articleConfig({ healthCheckIntervalSeconds })).timeoutSeconds;
      expect([5, 6, 10, 30, 300].map(timeoutFor)).toEqual([4, 5, 5, 5, 5]);
    });

    it('an interval of 5 s with matcher 200-299 is an in-place update: ModifyTargetGroup with timeout 4 s, nothing created or deleted', async () => {
      harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD }, config: { ...CUSTOM, healthCheckIntervalSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3 } });
      liveAsRecorded();
      elbv2.on(ModifyTargetGroupCommand).resolves({});
      const found = (await targetGroupStep.read(harness.readContext))!;
      const want = targetGroupStep.desired(harness.config, harness.inputs);
      const changes = diffFields(want, found.observed, targetGroupStep.effects);

      expect(changes.map((change) => [change.field, change.effect])).toEqual([['healthCheck', 'update']]);
      await targetGroupStep.update!(harness.context, want, found, changes);

      expect(elbv2.commandCalls(ModifyTargetGroupCommand).map((call) => call.args[0].input)).toEqual([
        { TargetGroupArn: TG.targetGroupArn, ...CUSTOM_INPUT, HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 4, HealthyThresholdCount: 2, UnhealthyThresholdCount: 3 },
      ]);
      expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)).toHaveLength(0);
    });

    it('a changed --health-check-path alone is an update (ModifyTargetGroup only), and the group then reads back equal', async () => {
      harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD }, config: { healthCheckPath: '/healthz' } });
      liveAsRecorded();
      elbv2.on(ModifyTargetGroupCommand).resolves({});
      const found = (await targetGroupStep.read(harness.readContext))!;
      const want = targetGroupStep.desired(harness.config, harness.inputs);
      const changes = diffFields(want, found.observed, targetGroupStep.effects);

      expect(changes).toEqual([{ field: 'healthCheck', from: expect.objectContaining({ path: '/' }), to: { ...healthCheckOf(articleConfig()), path: '/healthz' }, effect: 'update' }]);
      expect(await targetGroupStep.update!(harness.context, want, found, changes)).toEqual(RECORD);

      expect(elbv2.commandCalls(ModifyTargetGroupCommand).map((call) => call.args[0].input)).toEqual([{ TargetGroupArn: TG.targetGroupArn, ...HEALTH_CHECK_INPUT, HealthCheckPath: '/healthz' }]);
      expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);

      elbv2.reset();
      liveAsRecorded({ HealthCheckPath: '/healthz' });
      const after = (await targetGroupStep.read(harness.readContext))!;
      expect(diffFields(want, after.observed, targetGroupStep.effects)).toEqual([]);
    });
  });

  it('update sets the deregistration delay with ModifyTargetGroupAttributes only', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded({}, '300');
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    const found = await targetGroupStep.read(harness.readContext);
    const want = targetGroupStep.desired(harness.config, harness.inputs);
    await targetGroupStep.update!(harness.context, want, found!, diffFields(want, found!.observed, targetGroupStep.effects));

    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG.targetGroupArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }],
    });
    expect(elbv2.commandCalls(ModifyTargetGroupCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
  });

  it('replace makes the new group under a derived name first, records it and retires the old one (the site stays up)', async () => {
    harness = stepHarness(targetGroupStep, { config: { launchType: 'FARGATE' }, record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded();
    const found = await targetGroupStep.read(harness.readContext);
    const want = targetGroupStep.desired(harness.config, harness.inputs);
    const [newName] = replacementNames(want, 'ecsauth-tg');
    const newArn = `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${newName}/0123456789abcdef`;
    elbv2.on(DescribeTargetGroupsCommand, { Names: [newName!] }).rejects(notFound);
    elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [group({ TargetGroupName: newName, TargetGroupArn: newArn, TargetType: 'ip' })] });
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    const output = await targetGroupStep.replace!(harness.context, want, found!, diffFields(want, found!.observed, targetGroupStep.effects));

    // Names are unique per account and region, and the old group still serves: the new one gets a suffix.
    expect(newName).toMatch(/^ecsauth-tg-[0-9a-f]{4}$/);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toMatchObject({ Name: newName, TargetType: 'ip', Port: 80, VpcId: VPC });
    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
    expect(output).toEqual({ name: newName, targetGroupArn: newArn, targetType: 'ip', configuredName: 'ecsauth-tg' });
    expect(harness.state.get('target-group')).toMatchObject({ data: output, retired: [RECORD] });
  });

  it('a replacement group reads back as the configured name, so the next plan is quiet', async () => {
    const replaced = { name: 'ecsauth-tg-1a2b', targetGroupArn: `${TG.targetGroupArn}-new`, targetType: 'instance' as const, configuredName: 'ecsauth-tg' };
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: replaced } });
    elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group({ TargetGroupName: replaced.name, TargetGroupArn: replaced.targetGroupArn })] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves(delay('60'));
    elbv2.on(DescribeTargetHealthCommand).resolves(healthy);

    const found = await targetGroupStep.read(harness.readContext);

    expect(found?.output).toEqual(replaced);
    expect(diffFields(targetGroupStep.desired(harness.config, harness.inputs), found!.observed, targetGroupStep.effects)).toEqual([]);
  });

  it('replace takes the configured name back when it is free, and adopts a group a killed replacement left', async () => {
    const replaced = { name: 'ecsauth-tg-1a2b', targetGroupArn: `${TG.targetGroupArn}-old`, targetType: 'instance' as const, configuredName: 'ecsauth-tg' };
    harness = stepHarness(targetGroupStep, { config: { containerPort: 8080 }, record: { created: true, complete: true, data: replaced } });
    const want = targetGroupStep.desired(harness.config, harness.inputs);
    const found = { output: replaced, observed: {}, created: true, health: { healthy: true, summary: '' } };
    elbv2.on(DescribeTargetGroupsCommand, { Names: ['ecsauth-tg'] }).resolves({ TargetGroups: [group({ Port: 8080 })] });
    elbv2.on(DescribeTagsCommand).resolves(ourTags);
    elbv2.on(ModifyTargetGroupCommand).resolves({});
    elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});

    const output = await targetGroupStep.replace!(harness.context, want, found, []);

    expect(output).toEqual(RECORD);
    expect(elbv2.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyTargetGroupAttributesCommand)).toHaveLength(1);
    expect(harness.state.get('target-group')).toMatchObject({ data: RECORD, retired: [replaced] });
  });

  it('replacement names stay within 32 characters and differ from the live name', () => {
    harness = stepHarness(targetGroupStep, { config: { targetGroupName: 'a'.repeat(30) + '-b' } });
    const want = targetGroupStep.desired(harness.config, harness.inputs);

    const names = replacementNames(want, want.name);
    expect(names).not.toContain(want.name);
    for (const name of names) expect(name).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/);
    expect(replacementNames(want, want.name)).toEqual(names);
  });

  it('delete removes the recorded (or retired) target group from its record alone', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    elbv2.on(DeleteTargetGroupCommand).resolves({});

    await targetGroupStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteTargetGroupCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: TG.targetGroupArn });
  });

  it('delete waits while a rule or service is still releasing the target group', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    const inUse = error('ResourceInUseException', `The target group '${TG.targetGroupArn}' is currently in use by a listener or a rule`);
    elbv2.on(DeleteTargetGroupCommand).rejectsOnce(inUse).rejectsOnce(inUse).resolves({});

    await targetGroupStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(3);
  });

  it('delete treats an already-deleted target group as done, even after waiting', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    elbv2.on(DeleteTargetGroupCommand).rejectsOnce(error('ResourceInUseException')).rejects(notFound);

    await expect(targetGroupStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(2);
  });

  it('delete times out if the target group stays in use', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD }, config: { waitTimeoutMinutes: 1 } });
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

  it('read finds nothing when the target group is gone', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    elbv2.on(DescribeTargetGroupsCommand).rejects(notFound);

    expect(await targetGroupStep.read(harness.readContext)).toBeUndefined();
  });

  it('health is healthy when the desired count of targets are healthy, with each target', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded();
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: 'i-0123456789abcdef1', Port: 80 }, TargetHealth: { State: 'healthy' } },
      ],
    });

    expect((await targetGroupStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: '2/2 healthy',
      details: {
        targets: [
          { id: 'i-0123456789abcdef0', port: 80, state: 'healthy' },
          { id: 'i-0123456789abcdef1', port: 80, state: 'healthy' },
        ],
      },
    });
  });

  it('health is unhealthy with fewer healthy targets than desired, with the reason', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD } });
    liveAsRecorded();
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: 'i-0123456789abcdef1', Port: 80 }, TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [404]' } },
        { Target: { Id: 'i-0123456789abcdef2', Port: 80 }, TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' } },
        { Target: { Id: 'i-0123456789abcdef3', Port: 80 }, TargetHealth: { State: 'initial', Reason: 'Elb.InitialHealthChecking' } },
      ],
    });

    const { health } = (await targetGroupStep.read(harness.readContext))!;
    // Each distinct state and reason code once.
    expect(health).toMatchObject({ healthy: false, summary: '1/2 healthy (unhealthy Target.ResponseCodeMismatch, initial Elb.InitialHealthChecking)' });
    expect((health.details?.targets as unknown[]) ?? []).toContainEqual({
      id: 'i-0123456789abcdef1',
      port: 80,
      state: 'unhealthy',
      reason: 'Target.ResponseCodeMismatch',
      description: 'Health checks failed with these codes: [404]',
    });
  });

  it('a target that is not healthy and has no reason code shows its state alone', async () => {
    harness = stepHarness(targetGroupStep, { record: { created: true, complete: true, data: RECORD }, config: { desiredCount: 1 } });
    liveAsRecorded();
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: 'i-0123456789abcdef0', Port: 80 }, TargetHealth: { State: 'draining' } }] });

    expect((await targetGroupStep.read(harness.readContext))?.health).toMatchObject({ healthy: false, summary: '0/1 healthy (draining)' });
  });
});
