/**
 * Self-test of the e2e harness: moto starts and stops, the fixtures seed, and the agent
 * stand-in registers an instance exactly once and a service's targets. No authecs involved.
 */
import { CreateClusterCommand, CreateServiceCommand, ListContainerInstancesCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTargetGroupCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { clusterFromUserData, privateIpsFor } from '../support/agent-stand-in.js';
import { setupE2e } from '../support/e2e.js';
import { authecsRecords, readInventory } from '../support/inventory.js';
import { skipE2e, startMotoOrFail } from '../support/moto.js';

describe.skipIf(skipE2e)('e2e harness', () => {
  const e2e = setupE2e();

  it('parses the cluster from user data and spreads ip targets over subnets', () => {
    expect(clusterFromUserData('#!/bin/bash\necho ECS_CLUSTER=ecsauth >> /etc/ecs/ecs.config\n')).toBe('ecsauth');
    expect(clusterFromUserData('#!/bin/bash\n')).toBeUndefined();
    expect(privateIpsFor(['10.0.2.0/24', '10.0.3.0/24'], 3)).toEqual(['10.0.2.10', '10.0.3.10', '10.0.2.11']);
  });

  it('starts a second moto on another free port and stops it by PID', async () => {
    const other = await startMotoOrFail();
    expect(other.port).not.toBe(e2e.moto.port);
    const pid = other.pid!;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await other.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('seeds the hosted zone, the network stack and the instance profile', async () => {
    const { fixtures, clients } = e2e;
    expect(fixtures.zoneName).toBe('example.com');
    expect(fixtures.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1b']);
    expect(fixtures.vpcId).toMatch(/^vpc-/);
    expect(fixtures.publicSubnets.every((subnet) => subnet.startsWith('subnet-'))).toBe(true);
    expect(fixtures.privateSubnets.every((subnet) => subnet.startsWith('subnet-'))).toBe(true);
    expect(fixtures.securityGroupId).toMatch(/^sg-/);
    const profile = await clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'ecsInstanceRole' }));
    expect(profile.InstanceProfile?.Roles?.map((role) => role.RoleName)).toEqual(['ecsInstanceRole']);
    const inventory = await readInventory(clients);
    expect(inventory.stacks).toEqual(['ecsplatform CREATE_COMPLETE']);
    expect(authecsRecords(inventory)).toEqual([]);
    expect(inventory.ingressRules.filter((rule) => rule.groupId === fixtures.securityGroupId)).toEqual([]);
  });

  it('plays the ECS agent (once per instance) and registers a service\'s targets', async () => {
    const { clients, fixtures, standIn } = e2e;
    await clients.ecs.send(new CreateClusterCommand({ clusterName: 'harness' }));
    const userData = Buffer.from('#!/bin/bash\necho ECS_CLUSTER=harness >> /etc/ecs/ecs.config\n').toString('base64');
    const run = await clients.ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0a168278a10694b9b',
        InstanceType: 't3.small',
        MinCount: 2,
        MaxCount: 2,
        SubnetId: fixtures.privateSubnets[0],
        UserData: userData,
        IamInstanceProfile: { Name: 'ecsInstanceRole' },
      }),
    );
    const instanceIds = (run.Instances ?? []).map((instance) => instance.InstanceId);
    // An instance without an ECS_CLUSTER line is left alone.
    await clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0a168278a10694b9b', MinCount: 1, MaxCount: 1, SubnetId: fixtures.privateSubnets[0] }));

    const registered = async () => (await clients.ecs.send(new ListContainerInstancesCommand({ cluster: 'harness' }))).containerInstanceArns ?? [];
    for (let waited = 0; (await registered()).length < 2 && waited < 50; waited += 1) await delay(100);
    await standIn.settle();
    await standIn.settle();
    expect((await registered()).length).toBe(2);
    const inventory = await readInventory(clients);
    expect(inventory.containerInstances.map((instance) => instance.ec2InstanceId).sort()).toEqual([...instanceIds].sort());

    const group = await clients.elbv2.send(new CreateTargetGroupCommand({ Name: 'harness-tg', Protocol: 'HTTP', Port: 80, VpcId: fixtures.vpcId, TargetType: 'instance' }));
    const targetGroupArn = group.TargetGroups?.[0]?.TargetGroupArn;
    await clients.ecs.send(
      new RegisterTaskDefinitionCommand({ family: 'harness', containerDefinitions: [{ name: 'web', image: 'nginx', memory: 128, portMappings: [{ containerPort: 80, hostPort: 80 }] }] }),
    );
    await clients.ecs.send(
      new CreateServiceCommand({ cluster: 'harness', serviceName: 'web', taskDefinition: 'harness', desiredCount: 2, loadBalancers: [{ targetGroupArn, containerName: 'web', containerPort: 80 }] }),
    );
    const targets = async () => (await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }))).TargetHealthDescriptions ?? [];
    for (let waited = 0; (await targets()).length < 2 && waited < 50; waited += 1) await delay(100);
    await standIn.settle();
    expect((await targets()).map((target) => target.Target?.Id).sort()).toEqual([...instanceIds].sort());
  });
});
