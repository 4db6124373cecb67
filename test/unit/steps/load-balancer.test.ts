import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  ElasticLoadBalancingV2Client,
  type LoadBalancer,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerStep as step } from '../../../src/steps/load-balancer.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ARN = SAMPLE_OUTPUTS['load-balancer'].loadBalancerArn;
const notFound = Object.assign(new Error('One or more load balancers not found'), { name: 'LoadBalancerNotFound' });
const ALB_GROUP = SAMPLE_OUTPUTS['load-balancer-security-group'].groupId;
const APP_GROUP = SAMPLE_OUTPUTS.network.securityGroupId;
const VPC = SAMPLE_OUTPUTS.network.vpcId;
const PUBLIC = SAMPLE_OUTPUTS.network.publicSubnets;
const activeAlb: LoadBalancer = {
  LoadBalancerArn: ARN,
  LoadBalancerName: 'ecsauth',
  DNSName: 'ecsauth-1.eu-west-1.elb.amazonaws.com',
  CanonicalHostedZoneId: 'Z32O12XQLNTSW2',
  Scheme: 'internet-facing',
  Type: 'application',
  VpcId: VPC,
  State: { Code: 'active' },
  AvailabilityZones: [
    { ZoneName: 'eu-west-1b', SubnetId: PUBLIC[1] },
    { ZoneName: 'eu-west-1a', SubnetId: PUBLIC[0] },
  ],
  SecurityGroups: [ALB_GROUP],
};
const OURS = { TagDescriptions: [{ ResourceArn: ARN, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] };
const RECORD = { created: true, complete: true, data: SAMPLE_OUTPUTS['load-balancer'] };
const OUTPUT = { name: 'ecsauth', loadBalancerArn: ARN, dnsName: 'ecsauth-1.eu-west-1.elb.amazonaws.com', canonicalHostedZoneId: 'Z32O12XQLNTSW2' };

describe('load-balancer step', () => {
  let harness: StepHarness<'load-balancer'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('depends on the network and the ALB security group step', () => {
    expect(step.dependsOn).toEqual(['network', 'load-balancer-security-group']);
  });

  describe('desired', () => {
    it("is the article's internet-facing ALB in the sorted public subnets, on the ALB group", () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, harness.inputs)).toEqual({
        name: 'ecsauth',
        scheme: 'internet-facing',
        type: 'application',
        vpcId: VPC,
        subnets: [...PUBLIC].sort(),
        securityGroups: [ALB_GROUP],
      });
    });

    it('with --ingress article, is on the network group, as the article does', () => {
      harness = stepHarness(step, { config: { ingressMode: 'article' } });
      expect(step.desired(harness.config, { network: SAMPLE_OUTPUTS.network }).securityGroups).toEqual([APP_GROUP]);
    });

    it('has UNKNOWN groups while the ALB group is still to be made, and UNKNOWN subnets and VPC while the network is', () => {
      harness = stepHarness(step);
      expect(step.desired(harness.config, { ...harness.inputs, 'load-balancer-security-group': UNKNOWN }).securityGroups).toEqual([UNKNOWN]);
      expect(step.desired(harness.config, { ...harness.inputs, network: UNKNOWN })).toMatchObject({ vpcId: UNKNOWN, subnets: UNKNOWN });
      expect(step.desired(articleConfig({ ingressMode: 'article' }), { network: UNKNOWN }).securityGroups).toEqual([UNKNOWN]);
    });
  });

  describe('read (never writes)', () => {
    it('adopts a tagged ALB left by a run killed before it could record the ARN, with its live values observed', async () => {
      harness = stepHarness(step);
      elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(DescribeTagsCommand).resolves(OURS);

      const live = await step.read(harness.readContext);

      expect(live).toMatchObject({ created: true, settled: true, output: OUTPUT });
      expect(live?.observed).toEqual({ name: 'ecsauth', scheme: 'internet-facing', type: 'application', vpcId: VPC, subnets: [...PUBLIC].sort(), securityGroups: [ALB_GROUP] });
      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([]);
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
      expect(harness.state.get('load-balancer')).toBeUndefined();
    });

    it('refuses an ALB name that something else already uses', async () => {
      harness = stepHarness(step);
      elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: ARN, Tags: [{ Key: 'team', Value: 'other' }] }] });

      await expect(step.read(harness.readContext)).rejects.toMatchObject({ code: 'LOAD_BALANCER_NAME_TAKEN', exit: 'conflict' });
      await expect(step.preflight!(harness.readContext)).rejects.toMatchObject({ code: 'LOAD_BALANCER_NAME_TAKEN' });
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
    });

    it('is not settled while provisioning', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] });

      expect(await step.read(harness.readContext)).toMatchObject({ settled: false, health: { healthy: false, summary: 'provisioning' } });
    });

    it('health: the state, DNS name, scheme and groups', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });

      expect((await step.read(harness.readContext))?.health).toEqual({
        healthy: true,
        summary: 'active',
        details: { dnsName: activeAlb.DNSName, scheme: 'internet-facing', securityGroups: [ALB_GROUP] },
      });
    });

    it('finds nothing for a deleted ALB', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand).rejects(notFound);

      expect(await step.read(harness.readContext)).toBeUndefined();
    });
  });

  describe('diff', () => {
    it('other groups than the --ingress mode wants (or an extra one) are an update', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [APP_GROUP, ALB_GROUP] }] });

      const live = await step.read(harness.readContext);

      expect(diffFields(step.desired(harness.config, harness.inputs), live!.observed, step.effects)).toEqual([
        { field: 'securityGroups', from: [ALB_GROUP, APP_GROUP].sort(), to: [ALB_GROUP], effect: 'update' },
      ]);
    });

    it('other public subnets are an update; another VPC or name a replacement', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      const live = await step.read(harness.readContext);
      const subnets = ['subnet-0ccccccccccccccc1', 'subnet-0ccccccccccccccc2'];

      expect(diffFields(step.desired(harness.config, { ...harness.inputs, network: { ...SAMPLE_OUTPUTS.network, publicSubnets: [...subnets].reverse() } }), live!.observed, step.effects)).toEqual([
        { field: 'subnets', from: [...PUBLIC].sort(), to: subnets, effect: 'update' },
      ]);
      expect(
        diffFields(step.desired(harness.config, { ...harness.inputs, network: { ...SAMPLE_OUTPUTS.network, vpcId: 'vpc-0fffffffffffffff1', publicSubnets: subnets } }), live!.observed, step.effects).map((change) => [change.field, change.effect]),
      ).toEqual([
        ['vpcId', 'replace'],
        ['subnets', 'update'],
      ]);
      expect(diffFields(step.desired(articleConfig({ loadBalancerName: 'other' }), harness.inputs), live!.observed, step.effects)).toEqual([
        { field: 'name', from: 'ecsauth', to: 'other', effect: 'replace' },
      ]);
    });
  });

  describe('create', () => {
    it("creates the article's internet-facing ALB in the public subnets, on its own security group, tagged, records its ARN, and waits until active", async () => {
      harness = stepHarness(step);
      elbv2.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });

      const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(elbv2.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input).toEqual({
        Name: 'ecsauth',
        Subnets: [...PUBLIC].sort(),
        SecurityGroups: [ALB_GROUP],
        Scheme: 'internet-facing',
        Type: 'application',
        IpAddressType: 'ipv4',
        Tags: [
          { Key: 'authecs:stack', Value: 'ecsauth' },
          { Key: 'managed-by', Value: 'authecs' },
        ],
      });
      expect(output).toEqual(OUTPUT);
      expect(harness.state.get('load-balancer')).toMatchObject({ created: true, data: OUTPUT });
      expect(harness.progress).toContain('waiting for the load balancer to become active');
    });

    // ELBv2 answers InvalidSecurityGroup for a group EC2 made a moment ago (EC2 API Reference, "Eventual consistency"; hashicorp/packer#3627).
    it('retries CreateLoadBalancer while the just-made ALB group is not visible yet (EC2 API Reference, "Eventual consistency")', async () => {
      harness = stepHarness(step);
      const notVisible = Object.assign(new Error(`One or more security groups are invalid: ${ALB_GROUP}`), { name: 'InvalidSecurityGroupException' });
      elbv2.on(CreateLoadBalancerCommand).rejectsOnce(notVisible).rejectsOnce(notVisible).resolves({ LoadBalancers: [activeAlb] });

      const output = await step.create(harness.context, step.desired(harness.config, harness.inputs));

      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(3);
      expect(output).toEqual(OUTPUT);
    });

    it('with --ingress article, puts the ALB on the network group', async () => {
      harness = stepHarness(step, { config: { ingressMode: 'article' } });
      elbv2.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [APP_GROUP] }] });

      await step.create(harness.context, step.desired(harness.config, { network: SAMPLE_OUTPUTS.network }));

      expect(elbv2.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input.SecurityGroups).toEqual([APP_GROUP]);
    });

    it('refuses to create from a wish with an UNKNOWN group', async () => {
      harness = stepHarness(step);

      await expect(step.create(harness.context, step.desired(harness.config, { ...harness.inputs, 'load-balancer-security-group': UNKNOWN }))).rejects.toMatchObject({ code: 'STEP_INPUT_UNKNOWN' });
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
    });
  });

  describe('update', () => {
    it('switching to --ingress article moves the ALB to the network group with SetSecurityGroups, and nothing else', async () => {
      harness = stepHarness(step, { config: { ingressMode: 'article' }, record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(SetSecurityGroupsCommand).resolves({ SecurityGroupIds: [APP_GROUP] });
      const want = step.desired(harness.config, { network: SAMPLE_OUTPUTS.network });
      const live = (await step.read(harness.readContext))!;

      const output = await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(elbv2.commandCalls(SetSecurityGroupsCommand).map((call) => call.args[0].input)).toEqual([{ LoadBalancerArn: ARN, SecurityGroups: [APP_GROUP] }]);
      expect(elbv2.commandCalls(SetSubnetsCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
      expect(output).toEqual(OUTPUT);
      expect(harness.state.get('load-balancer')).toMatchObject({ created: true, data: OUTPUT });
    });

    it('retries SetSecurityGroups while a new group is not visible yet (EC2 API Reference, "Eventual consistency")', async () => {
      harness = stepHarness(step, { config: { ingressMode: 'article' }, record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(SetSecurityGroupsCommand).rejectsOnce(Object.assign(new Error(`Security group '${APP_GROUP}' does not exist`), { name: 'InvalidSecurityGroupException' })).resolves({ SecurityGroupIds: [APP_GROUP] });
      const want = step.desired(harness.config, { network: SAMPLE_OUTPUTS.network });
      const live = (await step.read(harness.readContext))!;

      await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(elbv2.commandCalls(SetSecurityGroupsCommand)).toHaveLength(2);
    });

    it('other public subnets: SetSubnets, and nothing else', async () => {
      const subnets = ['subnet-0ccccccccccccccc2', 'subnet-0ccccccccccccccc1'];
      harness = stepHarness(step, { record: RECORD, outputs: { network: { ...SAMPLE_OUTPUTS.network, publicSubnets: subnets } } });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(SetSubnetsCommand).resolves({});
      const want = step.desired(harness.config, harness.inputs);
      const live = (await step.read(harness.readContext))!;

      await step.update!(harness.context, want, live, diffFields(want, live.observed, step.effects));

      expect(elbv2.commandCalls(SetSubnetsCommand).map((call) => call.args[0].input)).toEqual([{ LoadBalancerArn: ARN, Subnets: [...subnets].sort() }]);
      expect(elbv2.commandCalls(SetSecurityGroupsCommand)).toHaveLength(0);
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
    });
  });

  it('settle waits until active and returns the output with its hosted zone ID', async () => {
    harness = stepHarness(step, { record: RECORD });
    elbv2
      .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] })
      .resolvesOnce({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] })
      .resolvesOnce({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] })
      .resolves({ LoadBalancers: [activeAlb] });
    const live = (await step.read(harness.readContext))!;
    expect(live.settled).toBe(false);

    expect(await step.settle!(harness.context, live)).toEqual(OUTPUT);
    expect(harness.progress).toContain('waiting for the load balancer to become active');
  });

  it('polls DescribeLoadBalancers every 5 s for 3 minutes, then every 15 s: an ALB active after 4 minutes takes 41 checks', async () => {
    harness = stepHarness(step, { record: RECORD });
    let started: number | undefined;
    const checks: number[] = [];
    elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).callsFake(() => {
      if (started === undefined) return { LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] };
      const seconds = (harness.context.now() - started) / 1000;
      checks.push(seconds);
      return { LoadBalancers: [{ ...activeAlb, State: { Code: seconds >= 240 ? 'active' : 'provisioning' } }] };
    });
    const live = (await step.read(harness.readContext))!;
    started = harness.context.now();

    await step.settle!(harness.context, live);

    // The wait's checks, then settle's own read of the output.
    expect(checks.slice(0, -1)).toEqual([...Array.from({ length: 36 }, (_, index) => index * 5), 180, 195, 210, 225, 240]);
    expect(harness.reporter.events.filter((event) => event.type === 'wait')).toEqual([
      { type: 'wait', step: 'load-balancer', description: `load balancer ${ARN} to become active`, calls: 41, elapsedMs: 240_000, outcome: 'done' },
    ]);
  });

  it('stops at once with the reason when the ALB fails to provision', async () => {
    harness = stepHarness(step, { record: RECORD });
    elbv2
      .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] })
      .resolvesOnce({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] })
      .resolvesOnce({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] })
      .resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'failed', Reason: 'subnet has no free addresses' } }] });
    const live = (await step.read(harness.readContext))!;

    await expect(step.settle!(harness.context, live)).rejects.toMatchObject({ code: 'LOAD_BALANCER_NOT_ACTIVE', message: expect.stringContaining('subnet has no free addresses') });
    expect(elbv2.commandCalls(DescribeLoadBalancersCommand)).toHaveLength(3);
  });

  it('times out with LOAD_BALANCER_NOT_ACTIVE after --wait-timeout', async () => {
    harness = stepHarness(step, { record: RECORD, config: { waitTimeoutMinutes: 4 } });
    elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] });
    const live = (await step.read(harness.readContext))!;

    await expect(step.settle!(harness.context, live)).rejects.toMatchObject({ code: 'LOAD_BALANCER_NOT_ACTIVE', exit: 'timeout' });
    // read's look-up, then checks at 0, 5, ... 175, 180, 195, ... 240 s.
    expect(elbv2.commandCalls(DescribeLoadBalancersCommand)).toHaveLength(1 + 41);
  });

  describe('delete', () => {
    it('deletes the recorded ALB and waits until it is gone', async () => {
      harness = stepHarness(step, { record: RECORD });
      // The SDK v3 error name: gone, as the LoadBalancersDeleted waiter takes it.
      elbv2.on(DescribeLoadBalancersCommand).resolvesOnce({ LoadBalancers: [activeAlb] }).rejects(Object.assign(new Error('not found'), { name: 'LoadBalancerNotFoundException' }));
      elbv2.on(DeleteLoadBalancerCommand).resolves({});

      await step.delete(harness.context);

      expect(elbv2.commandCalls(DeleteLoadBalancerCommand).map((call) => call.args[0].input)).toEqual([{ LoadBalancerArn: ARN }]);
      expect(harness.progress).toContain('waiting for the load balancer to be deleted');
      // One look-up before the delete, one check after it that no longer finds the ALB.
      expect(elbv2.commandCalls(DescribeLoadBalancersCommand)).toHaveLength(2);
    });

    it('treats an already-deleted ALB as done', async () => {
      harness = stepHarness(step, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand).rejects(notFound);

      await step.delete(harness.context);

      expect(elbv2.commandCalls(DeleteLoadBalancerCommand)).toHaveLength(0);
    });
  });
});
