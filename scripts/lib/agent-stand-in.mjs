// ============================================================================================
// STAND-IN FOR WHAT AWS DOES ON ITS OWN, AND MOTO DOES NOT.
//
// Every piece of emulator-side behaviour the harness fakes lives in this one module, so a reader
// can see at once what the e2e suite and the demo take on trust. Each stand-in only does what AWS
// would do by itself after authecs's calls; it never creates, repairs or deletes anything that
// authecs is responsible for, so it cannot hide an authecs bug.
//
// 1. The ECS container agent. On real AWS, an EC2 instance started from the ECS-optimized AMI
//    reads ECS_CLUSTER from /etc/ecs/ecs.config (written by authecs's user data) and its agent
//    registers the instance with that cluster, once. moto runs no agent, so the stand-in reads
//    each running instance's user data and calls RegisterContainerInstance for it, exactly once
//    (moto would create a duplicate container instance on a second call). With `registrationDelayMs`
//    (default 0) it registers an instance only that long after it first saw it, as the agent does
//    once the instance has booted (about 90 s after launch on AWS); the benchmark sets it.
//
// 2. The ECS service scheduler's load-balancer integration. On real AWS, when a service with a
//    target group places tasks, ECS registers each task in the target group (the instance ID
//    for target type "instance", the task ENI's private IP for "ip"), and deregisters it when the
//    task stops. moto starts no tasks (MOTO_ECS_SERVICE_RUNNING only fakes the counts), so the
//    stand-in registers as many targets as the service's desired count in its target group, and
//    deregisters them when the service goes INACTIVE.
//
// 3. The ECS service scheduler's task placement (EC2 launch type). On real AWS the scheduler keeps
//    desiredCount tasks on ACTIVE container instances (one per instance with a static host port),
//    starts a replacement before it stops a task on a DRAINING instance (maximumPercent 200 allows
//    it), rolls tasks to a new task definition, stops extra tasks when the count goes down, and
//    registers each task's instance in the target group. moto places no service tasks, so the
//    stand-in does it with StartTask/StopTask (which moto counts in runningTasksCount, so a drain
//    wait sees the task leave). It records, per service, the fewest tasks it ever saw running
//    after the service first reached its desired count (`minimumRunning`).
//
// 4. The registry and the agent's image pull. An image whose tag is `no-such-tag` does not exist
//    (see unpullableImage): the task the scheduler places for it is stopped at once with the
//    agent's CannotPullContainerError, and the next attempt waits a moment, as ECS backs off
//    between launches that keep failing. The AWS behaviour model (aws-model.mjs) plays the deployment circuit breaker
//    on top: it counts these stopped tasks and rolls the service back.
//
// It polls moto every ~200 ms in the process that runs the tests (or the demo) while authecs runs
// as a subprocess. Its own errors (e.g. a resource authecs just deleted) are kept in `errors`
// and never thrown: the stand-in must not change the outcome of an authecs run.
// ============================================================================================
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTasksCommand,
  RegisterContainerInstanceCommand,
  StartTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { setTimeout as delay } from 'node:timers/promises';

/** The cluster an instance's user data points the ECS agent at (`echo ECS_CLUSTER=name >> /etc/ecs/ecs.config`). */
export function clusterFromUserData(userData) {
  const match = /ECS_CLUSTER=(\S+)/.exec(userData);
  return match ? match[1].replace(/["']/g, '') : undefined;
}

/** The tag that no registry has: a test's way to ship an image that cannot be pulled. */
export const UNPULLABLE_TAG = 'no-such-tag';

/** The reference the agent resolves: Docker Hub names get docker.io/ (and library/ when bare). */
export function imageReference(image) {
  const [first, ...rest] = image.split('/');
  if (rest.length > 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) return image;
  return rest.length === 0 ? `docker.io/library/${image}` : `docker.io/${image}`;
}

/**
 * The agent's stoppedReason for an image that cannot be pulled, or undefined when it can. Worded as
 * the agent words a failed pull: "CannotPullContainerError: pull image manifest has been retried 5
 * time(s): failed to resolve ref docker.io/...: ..." (as reported in ActionIQ/terraform-aws-retool-ecs-fargate#20).
 */
export function unpullableImage(image) {
  const tag = /:([^:/@]+)$/.exec(String(image ?? ''))?.[1];
  if (tag !== UNPULLABLE_TAG) return undefined;
  return `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${imageReference(image)}: not found`;
}

/** Private IPs for "ip" targets: host addresses .10, .11, ... of the subnets, round-robin. */
export function privateIpsFor(cidrs, count) {
  const ips = [];
  for (let index = 0; index < count; index += 1) {
    const cidr = cidrs[index % cidrs.length];
    const [base] = cidr.split('/');
    const octets = base.split('.').map(Number);
    const offset = 10 + Math.floor(index / cidrs.length);
    ips.push(`${octets[0]}.${octets[1]}.${octets[2]}.${octets[3] + offset}`);
  }
  return ips;
}

export function startAgentStandIn(clients, options = {}) {
  const intervalMs = options.intervalMs ?? 200;
  // ECS backs off between launches of tasks that keep failing to start.
  const failedStartBackoffMs = options.failedStartBackoffMs ?? 500;
  const region = options.region ?? 'eu-west-1';
  const registrationDelayMs = options.registrationDelayMs ?? 0;
  // Instance ID -> when the stand-in first saw it (moto's LaunchTime has whole seconds only).
  const firstSeen = new Map();
  // Instance IDs whose user data has been read: cluster name, or null when it names none.
  const userDataCluster = new Map();
  // Instance ID -> container instance ARN, for every registration the stand-in made.
  const registeredInstances = new Map();
  // Service ARN + target group ARN -> targets the stand-in registered for it.
  const registeredTargets = new Map();
  // Service ARN -> { reachedDesired, minimumRunning, tasksStarted, tasksStopped, tasksFailedToStart } for stand-in 3.
  const scheduled = new Map();
  // Task definition ARN -> the pull failure of one of its images, or null (stand-in 4).
  const pullFailures = new Map();
  // Service ARN -> when its last task failed to start.
  const lastFailedStart = new Map();
  const errors = [];
  let stopped = false;
  let generation = 0;
  let ticks = 0;

  const record = (what, error) => {
    errors.push(`${new Date().toISOString()} ${what}: ${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`);
    if (errors.length > 500) errors.splice(0, errors.length - 500);
  };

  async function activeClusterNames() {
    const arns = (await clients.ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    if (arns.length === 0) return new Map();
    const described = await clients.ecs.send(new DescribeClustersCommand({ clusters: arns }));
    return new Map((described.clusters ?? []).filter((cluster) => cluster.status === 'ACTIVE').map((cluster) => [cluster.clusterName, cluster.clusterArn]));
  }

  async function containerInstancesOf(cluster) {
    const arns = (await clients.ecs.send(new ListContainerInstancesCommand({ cluster }))).containerInstanceArns ?? [];
    if (arns.length === 0) return [];
    const described = await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: arns }));
    return described.containerInstances ?? [];
  }

  // Stand-in 1: the ECS agent on each instance.
  async function registerInstances(clusters, mine) {
    const response = await clients.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }] }),
    );
    const instances = (response.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    for (const instance of instances) {
      if (mine !== generation) return;
      const instanceId = instance.InstanceId;
      if (!instanceId || registeredInstances.has(instanceId)) continue;
      if (!firstSeen.has(instanceId)) firstSeen.set(instanceId, Date.now());
      if (Date.now() < firstSeen.get(instanceId) + registrationDelayMs) continue;
      if (!userDataCluster.has(instanceId)) {
        const attribute = await clients.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }));
        const encoded = attribute.UserData?.Value;
        const cluster = encoded ? clusterFromUserData(Buffer.from(encoded, 'base64').toString('utf8')) : undefined;
        userDataCluster.set(instanceId, cluster ?? null);
      }
      const cluster = userDataCluster.get(instanceId);
      // The agent keeps retrying until its cluster exists; so do we.
      if (!cluster || !clusters.has(cluster)) continue;
      const existing = await containerInstancesOf(cluster);
      const already = existing.find((containerInstance) => containerInstance.ec2InstanceId === instanceId);
      if (already) {
        registeredInstances.set(instanceId, already.containerInstanceArn);
        continue;
      }
      const identity = {
        instanceId,
        region,
        availabilityZone: instance.Placement?.AvailabilityZone,
        instanceType: instance.InstanceType,
        imageId: instance.ImageId,
        privateIp: instance.PrivateIpAddress,
        accountId: '123456789012',
      };
      const registered = await clients.ecs.send(
        new RegisterContainerInstanceCommand({
          cluster,
          instanceIdentityDocument: JSON.stringify(identity),
          instanceIdentityDocumentSignature: 'agent-stand-in',
        }),
      );
      registeredInstances.set(instanceId, registered.containerInstance?.containerInstanceArn);
    }
  }

  // Stand-in 2: ECS registering (and deregistering) the service's tasks in its target group.
  async function registerTargets(clusters, mine) {
    for (const [clusterName] of clusters) {
      const serviceArns = (await clients.ecs.send(new ListServicesCommand({ cluster: clusterName }))).serviceArns ?? [];
      if (serviceArns.length === 0) continue;
      const services = (await clients.ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: serviceArns }))).services ?? [];
      for (const service of services) {
        if (mine !== generation) return;
        // EC2 services are placed by stand-in 3, which registers their targets itself.
        if (service.launchType === 'EC2') continue;
        for (const loadBalancer of service.loadBalancers ?? []) {
          const targetGroupArn = loadBalancer.targetGroupArn;
          if (!targetGroupArn) continue;
          const key = `${service.serviceArn} ${targetGroupArn}`;
          if (service.status !== 'ACTIVE') {
            const targets = registeredTargets.get(key);
            if (targets && targets.length > 0) {
              registeredTargets.set(key, []);
              await clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: targets })).catch((error) => record('DeregisterTargets', error));
            }
            continue;
          }
          if (registeredTargets.get(key)?.length) continue;
          const health = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
          if ((health.TargetHealthDescriptions ?? []).length > 0) continue;
          const group = (await clients.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [targetGroupArn] }))).TargetGroups?.[0];
          const desired = service.desiredCount ?? 0;
          if (!group || desired === 0) continue;
          const port = loadBalancer.containerPort ?? group.Port;
          let ids = [];
          if (group.TargetType === 'ip') {
            const subnets = service.networkConfiguration?.awsvpcConfiguration?.subnets ?? [];
            if (subnets.length === 0) continue;
            const described = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: subnets }));
            const cidrs = (described.Subnets ?? []).map((subnet) => subnet.CidrBlock).filter(Boolean);
            ids = privateIpsFor(cidrs, desired);
          } else {
            // Tasks can only be placed on registered, active container instances (spread: one per instance).
            const instances = (await containerInstancesOf(clusterName)).filter((containerInstance) => containerInstance.status === 'ACTIVE');
            const instanceIds = instances.map((containerInstance) => containerInstance.ec2InstanceId).filter(Boolean);
            if (instanceIds.length === 0) continue;
            ids = Array.from({ length: Math.min(desired, instanceIds.length) }, (_, index) => instanceIds[index]);
          }
          const targets = ids.map((id) => ({ Id: id, Port: port }));
          await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: targets }));
          registeredTargets.set(key, targets);
        }
      }
    }
  }

  // Stand-in 3: the scheduler placing an EC2 service's tasks, one per ACTIVE container instance.
  async function scheduleTasks(clusters, mine) {
    for (const [clusterName] of clusters) {
      const serviceArns = (await clients.ecs.send(new ListServicesCommand({ cluster: clusterName }))).serviceArns ?? [];
      const services = serviceArns.length ? ((await clients.ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: serviceArns }))).services ?? []) : [];
      const instances = await containerInstancesOf(clusterName);
      const instanceByArn = new Map(instances.map((instance) => [instance.containerInstanceArn, instance]));
      for (const service of services) {
        if (mine !== generation || service.launchType !== 'EC2') continue;
        const startedBy = `stand-in:${service.serviceName}`.slice(0, 36);
        // moto walks lastStatus through its whole lifecycle on every describe; desiredStatus is what holds.
        const taskArns = (await clients.ecs.send(new ListTasksCommand({ cluster: clusterName, startedBy }))).taskArns ?? [];
        const tasks = taskArns.length
          ? ((await clients.ecs.send(new DescribeTasksCommand({ cluster: clusterName, tasks: taskArns }))).tasks ?? []).filter((task) => task.desiredStatus !== 'STOPPED')
          : [];
        const facts = scheduled.get(service.serviceArn) ?? { reachedDesired: false, minimumRunning: undefined, tasksStarted: 0, tasksStopped: 0, tasksFailedToStart: 0 };
        scheduled.set(service.serviceArn, facts);
        const stop = async (task, reason) => {
          await clients.ecs.send(new StopTaskCommand({ cluster: clusterName, task: task.taskArn, reason }));
          facts.tasksStopped += 1;
        };
        if (service.status !== 'ACTIVE') {
          for (const task of tasks) await stop(task, 'Service deleted');
          continue;
        }
        const where = (task) => instanceByArn.get(task.containerInstanceArn);
        // A task whose instance was deregistered or terminated is gone (the agent is gone with it).
        const live = [];
        for (const task of tasks) {
          if (where(task)) live.push(task);
          else await stop(task, 'Container instance gone');
        }
        const want = service.desiredCount ?? 0;
        const current = (task) => where(task)?.status === 'ACTIVE' && task.taskDefinitionArn === service.taskDefinition;
        const healthy = live.filter(current);
        const busy = new Set(live.map((task) => task.containerInstanceArn));
        const free = instances.filter((instance) => instance.status === 'ACTIVE' && !busy.has(instance.containerInstanceArn));
        const pullFailure = await pullFailureOf(service.taskDefinition);
        // Start first (maximumPercent 200), then stop what is outdated, draining or extra.
        while (healthy.length < want && free.length > 0) {
          if (pullFailure && Date.now() < (lastFailedStart.get(service.serviceArn) ?? 0) + failedStartBackoffMs) break;
          const instance = free.shift();
          // AWS groups a service's tasks as service:<name> (ListTasks serviceName finds them by it).
          const started = await clients.ecs.send(
            new StartTaskCommand({ cluster: clusterName, taskDefinition: service.taskDefinition, containerInstances: [instance.containerInstanceArn], startedBy, group: `service:${service.serviceName}` }),
          );
          const task = started.tasks?.[0];
          if (!task) break;
          if (pullFailure) {
            // Stand-in 4: the agent cannot pull the image, so the task stops before it ever runs.
            await clients.ecs.send(new StopTaskCommand({ cluster: clusterName, task: task.taskArn, reason: pullFailure }));
            facts.tasksFailedToStart += 1;
            lastFailedStart.set(service.serviceArn, Date.now());
            break;
          }
          facts.tasksStarted += 1;
          healthy.push({ ...task, containerInstanceArn: instance.containerInstanceArn, taskDefinitionArn: service.taskDefinition });
          live.push(healthy[healthy.length - 1]);
        }
        const minimumHealthy = Math.ceil(want * 0.5);
        let running = live.length;
        for (const task of live) {
          if (current(task) && healthy.indexOf(task) < want) continue;
          const spare = healthy.filter((other) => other !== task).length;
          // Outdated tasks with nowhere to start a replacement go while minimumHealthyPercent (50) allows.
          if (spare >= want || (!current(task) && running - 1 >= minimumHealthy)) {
            await stop(task, 'Scaling activity initiated by deployment');
            running -= 1;
          }
        }
        const runningNow = Math.max(running, 0);
        if (runningNow >= want && want > 0) facts.reachedDesired = true;
        if (facts.reachedDesired) facts.minimumRunning = Math.min(facts.minimumRunning ?? runningNow, runningNow);
        await syncTargets(service, clusterName, startedBy, instanceByArn);
      }
    }
  }

  async function pullFailureOf(taskDefinitionArn) {
    if (!taskDefinitionArn) return undefined;
    if (!pullFailures.has(taskDefinitionArn)) {
      const described = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
      const images = (described.taskDefinition?.containerDefinitions ?? []).map((container) => container.image);
      pullFailures.set(taskDefinitionArn, images.map(unpullableImage).find(Boolean) ?? null);
    }
    return pullFailures.get(taskDefinitionArn) ?? undefined;
  }

  /** The target group holds exactly the instances that run one of the service's tasks. */
  async function syncTargets(service, clusterName, startedBy, instanceByArn) {
    const loadBalancer = (service.loadBalancers ?? [])[0];
    if (!loadBalancer?.targetGroupArn) return;
    const taskArns = (await clients.ecs.send(new ListTasksCommand({ cluster: clusterName, startedBy }))).taskArns ?? [];
    const tasks = taskArns.length ? ((await clients.ecs.send(new DescribeTasksCommand({ cluster: clusterName, tasks: taskArns }))).tasks ?? []) : [];
    const wanted = new Set(
      tasks.filter((task) => task.desiredStatus !== 'STOPPED').map((task) => instanceByArn.get(task.containerInstanceArn)?.ec2InstanceId).filter(Boolean),
    );
    const health = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: loadBalancer.targetGroupArn }));
    const present = new Set((health.TargetHealthDescriptions ?? []).map((description) => description.Target?.Id));
    const add = [...wanted].filter((id) => !present.has(id)).map((id) => ({ Id: id, Port: loadBalancer.containerPort }));
    const remove = [...present].filter((id) => id && !wanted.has(id)).map((id) => ({ Id: id, Port: loadBalancer.containerPort }));
    if (add.length) await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: loadBalancer.targetGroupArn, Targets: add }));
    if (remove.length) await clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: loadBalancer.targetGroupArn, Targets: remove }));
    registeredTargets.set(`${service.serviceArn} ${loadBalancer.targetGroupArn}`, [...wanted].map((id) => ({ Id: id, Port: loadBalancer.containerPort })));
  }

  async function tick() {
    const mine = generation;
    let clusters;
    try {
      clusters = await activeClusterNames();
    } catch (error) {
      record('ListClusters', error);
      return;
    }
    await registerInstances(clusters, mine).catch((error) => record('container-instance registration', error));
    await registerTargets(clusters, mine).catch((error) => record('target registration', error));
    await scheduleTasks(clusters, mine).catch((error) => record('task placement', error));
  }

  const loop = (async () => {
    while (!stopped) {
      await tick();
      ticks += 1;
      await delay(intervalMs);
    }
  })();

  return {
    errors,
    get ticks() {
      return ticks;
    },
    /** Instance ID -> container instance ARN of every registration the stand-in made. */
    registeredInstances,
    registeredTargets,
    /** Service ARN -> what the scheduler stand-in did and the fewest tasks it saw running once the service was up. */
    scheduled,
    /** Forget what was registered (after POST /moto-api/reset). */
    reset() {
      generation += 1;
      userDataCluster.clear();
      firstSeen.clear();
      registeredInstances.clear();
      registeredTargets.clear();
      scheduled.clear();
      pullFailures.clear();
      lastFailedStart.clear();
      errors.length = 0;
    },
    /** Resolves after the next complete poll, so a test can wait for the stand-in to catch up. */
    async settle() {
      const target = ticks + 2;
      while (ticks < target && !stopped) await delay(intervalMs / 4);
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
