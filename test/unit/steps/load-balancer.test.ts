import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerStep } from '../../../src/steps/load-balancer.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const ARN = SAMPLE_OUTPUTS['load-balancer'].loadBalancerArn;
const notFound = Object.assign(new Error('One or more load balancers not found'), { name: 'LoadBalancerNotFound' });
const activeAlb = { LoadBalancerArn: ARN, LoadBalancerName: 'ecsauth', DNSName: 'ecsauth-1.eu-west-1.elb.amazonaws.com', State: { Code: 'active' as const } };

describe('load-balancer step', () => {
  let harness: StepHarness<'load-balancer'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('creates the article\'s internet-facing ALB in the public subnets, tagged, and records its ARN', async () => {
    harness = stepHarness(loadBalancerStep);
    elbv2.on(DescribeLoadBalancersCommand, { Names: ['ecsauth'] }).rejects(notFound);
    elbv2.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [{ ...activeAlb, State: { Code: 'provisioning' } }] });
    elbv2.on(DescribeLoadBalancersCommand, { LoadBalancerArns: [ARN] }).resolves({ LoadBalancers: [activeAlb] });

    const output = await loadBalancerStep.create(harness.context);

    const create = elbv2.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input;
    expect(create).toMatchObject({
      Name: 'ecsauth',
      Subnets: SAMPLE_OUTPUTS.network.publicSubnets,
      SecurityGroups: [SAMPLE_OUTPUTS.network.securityGroupId],
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
});
