/**
 * The same cycle with --launch-type FARGATE: target type ip, an awsvpc task definition,
 * and no instances, key pair or launch template. It also runs --ingress article, so the
 * article's single security group is covered end to end (the EC2 cycle runs the default, isolated).
 */
import { existsSync } from 'node:fs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { describeRun } from '../support/cli.js';
import { setupE2e } from '../support/e2e.js';
import { readInventory, snapshot } from '../support/inventory.js';
import { skipE2e } from '../support/moto.js';

describe.skipIf(skipE2e)('FARGATE launch type: up, status, up again, down', () => {
  const e2e = setupE2e({ fresh: 'file' });
  let baseline: Record<string, string[]> = {};
  let domainPrefixes: string[] = [];
  let afterFirstUp: Record<string, string[]> = {};

  it('up --launch-type FARGATE --ingress article creates an ip target group, an awsvpc task definition, no instances, and the article\'s ingress', { timeout: 120_000 }, async () => {
    const { clients, fixtures } = e2e;
    baseline = await snapshot(clients);
    const run = await e2e.authecs(['up', '--launch-type', 'FARGATE', '--ingress', 'article', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json).toMatchObject({ ok: true, changed: true });
    const steps = run.json?.steps as Record<string, string>;
    expect(steps.capacity).toBe('skipped');
    expect(steps['key-pair']).toBe('skipped');
    expect(steps['load-balancer-security-group']).toBe('skipped');
    await e2e.standIn.settle();

    const inventory = await readInventory(clients);
    // The article's ingress: 443 and 80 from anywhere on the one network group, which the ALB and the tasks share.
    expect(inventory.loadBalancers[0]?.SecurityGroups).toEqual([fixtures.securityGroupId]);
    expect(inventory.securityGroupDetails.filter((group) => group.stack !== undefined), 'no ALB group of its own').toEqual([]);
    expect(
      inventory.ingressRules
        .filter((rule) => rule.groupId === fixtures.securityGroupId)
        .map((rule) => `${rule.protocol} ${rule.fromPort}-${rule.toPort} from ${rule.cidr}`)
        .sort(),
    ).toEqual(['tcp 443-443 from 0.0.0.0/0', 'tcp 80-80 from 0.0.0.0/0']);
    domainPrefixes = inventory.userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []));
    expect(inventory.loadBalancers.map((lb) => lb.LoadBalancerName)).toEqual(['ecsauth']);
    expect(inventory.rules.map((rule) => rule.Priority).sort()).toEqual(['20', '50000']);
    expect(inventory.targetGroups).toHaveLength(1);
    expect(inventory.targetGroups[0]).toMatchObject({ TargetGroupName: 'ecsauth-tg', Protocol: 'HTTP', Port: 80, TargetType: 'ip', VpcId: fixtures.vpcId });
    expect(inventory.instances).toEqual([]);
    expect(inventory.keyPairs).toEqual([]);
    expect(inventory.launchTemplates).toEqual([]);
    expect(inventory.activeClusters).toEqual(['ecsauth']);

    expect(inventory.taskDefinitions).toHaveLength(1);
    const taskDefinition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: inventory.taskDefinitions[0] }))).taskDefinition!;
    expect(taskDefinition).toMatchObject({ family: 'ecsauthservice', networkMode: 'awsvpc' });
    expect(taskDefinition.requiresCompatibilities).toContain('FARGATE');
    expect(taskDefinition.cpu).toBeTruthy();
    expect(taskDefinition.memory).toBeTruthy();
    expect(taskDefinition.containerDefinitions![0]).toMatchObject({ name: 'web', image: 'amazon/amazon-ecs-sample' });
    expect(taskDefinition.containerDefinitions![0]!.portMappings).toEqual([expect.objectContaining({ containerPort: 80 })]);

    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'ecsauth', services: ['ecsauthservice'] }))).services?.[0];
    expect(service).toMatchObject({ status: 'ACTIVE', desiredCount: 2, launchType: 'FARGATE' });
    expect(service!.loadBalancers).toEqual([expect.objectContaining({ targetGroupArn: inventory.targetGroups[0]!.TargetGroupArn, containerName: 'web', containerPort: 80 })]);
    const awsvpc = service!.networkConfiguration?.awsvpcConfiguration;
    expect([...(awsvpc?.subnets ?? [])].sort()).toEqual([...fixtures.privateSubnets].sort());
    expect(awsvpc?.securityGroups).toEqual([fixtures.securityGroupId]);
    afterFirstUp = await snapshot(clients, { domainPrefixes });
  });

  it('status --json reports every resource present and healthy, and exits 0', async () => {
    const run = await e2e.authecs(['status', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const rows = run.json?.resources as { step: string; present: boolean; healthy: boolean }[];
    expect(rows.map((row) => row.step)).not.toContain('capacity');
    expect(rows.map((row) => row.step)).not.toContain('key-pair');
    expect(rows.map((row) => row.step)).not.toContain('load-balancer-security-group');
    for (const row of rows) expect(row, row.step).toMatchObject({ present: true, healthy: true });
  });

  it('a second up makes no mutating call', async () => {
    const run = await e2e.authecs(['up', '--launch-type', 'FARGATE', '--ingress', 'article', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.json?.mutations).toEqual([]);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes })).toEqual(afterFirstUp);
  });

  it('down --yes leaves only the fixtures; a second down is a no-op', { timeout: 120_000 }, async () => {
    const run = await e2e.authecs(['down', '--yes', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    await e2e.standIn.settle();
    expect(await snapshot(e2e.clients, { domainPrefixes })).toEqual(baseline);
    expect(existsSync(e2e.statePath())).toBe(false);
    const again = await e2e.authecs(['down', '--yes']);
    expect(again.code, describeRun(again)).toBe(0);
    expect(await snapshot(e2e.clients, { domainPrefixes })).toEqual(baseline);
  });
});
