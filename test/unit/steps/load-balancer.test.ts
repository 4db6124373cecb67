import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  ElasticLoadBalancingV2Client,
  SetSecurityGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerStep } from '../../../src/steps/load-balancer.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ARN = SAMPLE_OUTPUTS['load-balancer'].loadBalancerArn;
const notFound = Object.assign(new Error('One or more load balancers not found'), { name: 'LoadBalancerNotFound' });
const ALB_GROUP = SAMPLE_OUTPUTS['load-balancer-security-group'].groupId;
const APP_GROUP = SAMPLE_OUTPUTS.network.securityGroupId;
const activeAlb = {
  LoadBalancerArn: ARN,
  LoadBalancerName: 'ecsauth',
  DNSName: 'ecsauth-1.eu-west-1.elb.amazonaws.com',
  State: { Code: 'active' as const },
  SecurityGroups: [ALB_GROUP],
};
const OURS = { TagDescriptions: [{ ResourceArn: ARN, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] };
const RECORD = { created: true, complete: true, data: SAMPLE_OUTPUTS['load-balancer'] };

describe('load-balancer step', () => {
  let harness: StepHarness<'load-balancer'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('creates the article\'s internet-facing ALB in the public subnets, on its own security group, tagged, and records its ARN', async () => {
    harness = stepHarness(loadBalancerStep);
    elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).rejects(notFound);
    elbv2.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] });
    elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });

    const output = await loadBalancerStep.create(harness.context);

    const create = elbv2.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input;
    expect(create).toMatchObject({
      Name: 'ecsauth',
      Subnets: SAMPLE_OUTPUTS.network.publicSubnets,
      SecurityGroups: [ALB_GROUP],
      Scheme: 'internet-facing',
      Type: 'application',
    });
    expect(create.Tags).toContainEqual({ Key: 'authecs:stack', Value: 'ecsauth' });
    expect(output.loadBalancerArn).toBe(ARN);
    expect(harness.state.get('load-balancer')).toMatchObject({ created: true, data: { loadBalancerArn: ARN } });
    expect(harness.progress).toContain('waiting for the load balancer to become active');
  });

  it('refuses an ALB name that something else already uses', async () => {
    harness = stepHarness(loadBalancerStep);
    elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).resolves({ LoadBalancers: [activeAlb] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: ARN, Tags: [{ Key: 'team', Value: 'other' }] }] });

    await expect(loadBalancerStep.create(harness.context)).rejects.toMatchObject({ code: 'LOAD_BALANCER_NAME_TAKEN', exit: 'conflict' });
    expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
  });

  it('adopts a tagged ALB left by a run killed before it could record the ARN', async () => {
    harness = stepHarness(loadBalancerStep);
    elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).resolves({ LoadBalancers: [activeAlb] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: ARN, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] });

    const found = await loadBalancerStep.find(harness.context);

    expect(found).toEqual({ created: true, output: expect.objectContaining({ loadBalancerArn: ARN }) });
    expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
  });

  it('delete treats an already-deleted ALB as done', async () => {
    harness = stepHarness(loadBalancerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['load-balancer'] } });
    elbv2.on(DescribeLoadBalancersCommand).rejects(notFound);

    await loadBalancerStep.delete(harness.context);

    expect(elbv2.commandCalls(DeleteLoadBalancerCommand)).toHaveLength(0);
  });

  it('inspect reports a missing ALB', async () => {
    harness = stepHarness(loadBalancerStep, { record: { created: true, complete: true, data: SAMPLE_OUTPUTS['load-balancer'] } });
    elbv2.on(DescribeLoadBalancersCommand).rejects(notFound);

    expect(await loadBalancerStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('with --ingress article, puts the ALB on the network group, as the article does', async () => {
    harness = stepHarness(loadBalancerStep, { config: { ingressMode: 'article' } });
    elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).rejects(notFound);
    elbv2.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [APP_GROUP] }] });

    await loadBalancerStep.create(harness.context);

    expect(elbv2.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input.SecurityGroups).toEqual([APP_GROUP]);
  });

  it('depends on the ALB security group step', () => {
    expect(loadBalancerStep.dependsOn).toEqual(['network', 'load-balancer-security-group']);
  });

  describe('security groups that differ from the --ingress mode', () => {
    it('find is undefined for our ALB on other groups, so create() repairs it with SetSecurityGroups and no new ALB', async () => {
      harness = stepHarness(loadBalancerStep, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [APP_GROUP] }] });
      elbv2.on(SetSecurityGroupsCommand).resolves({ SecurityGroupIds: [ALB_GROUP] });

      expect(await loadBalancerStep.find(harness.context)).toBeUndefined();
      const output = await loadBalancerStep.create(harness.context);

      expect(elbv2.commandCalls(SetSecurityGroupsCommand).map((call) => call.args[0].input)).toEqual([{ LoadBalancerArn: ARN, SecurityGroups: [ALB_GROUP] }]);
      expect(elbv2.commandCalls(CreateLoadBalancerCommand)).toHaveLength(0);
      expect(output.loadBalancerArn).toBe(ARN);
      expect(harness.state.get('load-balancer')).toMatchObject({ created: true, data: { loadBalancerArn: ARN } });
    });

    it('switching to --ingress article moves the ALB back to the network group', async () => {
      harness = stepHarness(loadBalancerStep, { config: { ingressMode: 'article' }, record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      elbv2.on(SetSecurityGroupsCommand).resolves({ SecurityGroupIds: [APP_GROUP] });

      expect(await loadBalancerStep.find(harness.context)).toBeUndefined();
      await loadBalancerStep.create(harness.context);

      expect(elbv2.commandCalls(SetSecurityGroupsCommand).map((call) => call.args[0].input.SecurityGroups)).toEqual([[APP_GROUP]]);
    });

    it('an ALB on exactly the wanted group needs no call', async () => {
      harness = stepHarness(loadBalancerStep, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });

      expect(await loadBalancerStep.find(harness.context)).toEqual({ created: true, output: expect.objectContaining({ loadBalancerArn: ARN }) });
      expect(elbv2.commandCalls(SetSecurityGroupsCommand)).toHaveLength(0);
    });

    it('an extra group counts as drift too', async () => {
      harness = stepHarness(loadBalancerStep, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [ALB_GROUP, APP_GROUP] }] });
      elbv2.on(DescribeTagsCommand).resolves(OURS);

      expect(await loadBalancerStep.find(harness.context)).toBeUndefined();
    });

    it('inspect reports the groups as drift, and is clean when they match', async () => {
      harness = stepHarness(loadBalancerStep, { record: RECORD });
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [{ ...activeAlb, SecurityGroups: [APP_GROUP] }] });

      const inspection = await loadBalancerStep.inspect(harness.context);
      expect(inspection).toMatchObject({ present: true, details: { securityGroups: [APP_GROUP] } });
      expect(inspection.drift).toEqual([`security groups are ${APP_GROUP}, not ${ALB_GROUP}`]);

      elbv2.reset();
      elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });
      expect((await loadBalancerStep.inspect(harness.context)).drift).toBeUndefined();
    });
  });
});
