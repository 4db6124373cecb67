/**
 * What moto holds, read with plain SDK describe calls (never through authecs's code), as sorted
 * lists of identifiers. Two snapshots compare with toEqual: "nothing changed", or "only the
 * fixtures are left" (compare with the snapshot taken right after seeding).
 */
import { ListCertificatesCommand } from '@aws-sdk/client-acm';
import { ListStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeUserPoolCommand,
  DescribeUserPoolDomainCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  type ContainerInstance,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type Listener,
  type LoadBalancer,
  type Rule,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { ListHostedZonesCommand, ListResourceRecordSetsCommand, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { EmulatorClients } from './fixtures.js';

export interface Inventory {
  loadBalancers: LoadBalancer[];
  listeners: Listener[];
  /** Non-default rules of every listener, with the listener they belong to. */
  rules: (Rule & { ListenerArn: string })[];
  targetGroups: TargetGroup[];
  targets: string[];
  certificates: { arn: string; domain: string; status: string }[];
  hostedZones: string[];
  /** Every record of every zone, SOA and NS included. */
  records: ResourceRecordSet[];
  securityGroups: string[];
  /** Every security group with its name, VPC and authecs:stack tag (if any). */
  securityGroupDetails: { id: string; name: string; vpcId: string; stack?: string }[];
  /** Ingress rules of every security group. */
  ingressRules: { id: string; groupId: string; protocol: string; fromPort: number; toPort: number; cidr: string }[];
  userPools: { id: string; name: string; domain?: string }[];
  appClients: { poolId: string; clientId: string; name: string }[];
  /** User pool domains that still resolve (moto keeps a domain after its pool is deleted). */
  userPoolDomains: string[];
  /** ACTIVE clusters only (a deleted cluster stays listed as INACTIVE). */
  activeClusters: string[];
  /** ACTIVE container instances of ACTIVE clusters. */
  containerInstances: ContainerInstance[];
  /** ACTIVE services of ACTIVE clusters. */
  services: Service[];
  /** ACTIVE task definition ARNs. */
  taskDefinitions: string[];
  /** Instances that are not terminated. */
  instances: Instance[];
  keyPairs: string[];
  launchTemplates: string[];
  stacks: string[];
  logGroups: string[];
  /** IAM roles with their paths (the fixtures' instance role, authecs's execution roles). */
  roles: string[];
}

/** Reads everything authecs could have made, plus the fixtures. */
export async function readInventory(clients: EmulatorClients, options: { domainPrefixes?: string[] } = {}): Promise<Inventory> {
  const loadBalancers = (await clients.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
  const listeners: Listener[] = [];
  for (const loadBalancer of loadBalancers) {
    listeners.push(...((await clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancer.LoadBalancerArn }))).Listeners ?? []));
  }
  const rules: Inventory['rules'] = [];
  for (const listener of listeners) {
    const listed = (await clients.elbv2.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }))).Rules ?? [];
    rules.push(...listed.filter((rule) => !rule.IsDefault).map((rule) => ({ ...rule, ListenerArn: listener.ListenerArn ?? '' })));
  }
  const targetGroups = (await clients.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
  const targets: string[] = [];
  for (const group of targetGroups) {
    const health = (await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn }))).TargetHealthDescriptions ?? [];
    targets.push(...health.map((description) => `${group.TargetGroupName} ${description.Target?.Id}:${description.Target?.Port}`));
  }

  const summaries = (await clients.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? [];
  const certificates = summaries.map((summary) => ({ arn: summary.CertificateArn ?? '', domain: summary.DomainName ?? '', status: summary.Status ?? '' }));

  const zones = (await clients.route53.send(new ListHostedZonesCommand({}))).HostedZones ?? [];
  const records: ResourceRecordSet[] = [];
  for (const zone of zones) {
    records.push(...((await clients.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id }))).ResourceRecordSets ?? []));
  }

  const securityGroups = (await clients.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const securityGroupDetails = securityGroups.map((group) => {
    const stack = group.Tags?.find((tag) => tag.Key === 'authecs:stack')?.Value;
    return { id: group.GroupId ?? '', name: group.GroupName ?? '', vpcId: group.VpcId ?? '', ...(stack ? { stack } : {}) };
  });
  const groupRules = (await clients.ec2.send(new DescribeSecurityGroupRulesCommand({}))).SecurityGroupRules ?? [];
  const ingressRules = groupRules
    .filter((rule) => !rule.IsEgress)
    .map((rule) => ({
      id: rule.SecurityGroupRuleId ?? '',
      groupId: rule.GroupId ?? '',
      protocol: rule.IpProtocol ?? '',
      fromPort: rule.FromPort ?? -1,
      toPort: rule.ToPort ?? -1,
      cidr: rule.CidrIpv4 ?? rule.ReferencedGroupInfo?.GroupId ?? '',
    }));

  const pools = (await clients.cognito.send(new ListUserPoolsCommand({ MaxResults: 60 }))).UserPools ?? [];
  const userPools: Inventory['userPools'] = [];
  const appClients: Inventory['appClients'] = [];
  for (const pool of pools) {
    const described = (await clients.cognito.send(new DescribeUserPoolCommand({ UserPoolId: pool.Id }))).UserPool;
    userPools.push({ id: pool.Id ?? '', name: pool.Name ?? '', ...(described?.Domain ? { domain: described.Domain } : {}) });
    const listed = (await clients.cognito.send(new ListUserPoolClientsCommand({ UserPoolId: pool.Id, MaxResults: 60 }))).UserPoolClients ?? [];
    appClients.push(...listed.map((client) => ({ poolId: pool.Id ?? '', clientId: client.ClientId ?? '', name: client.ClientName ?? '' })));
  }
  const prefixes = new Set([...(options.domainPrefixes ?? []), ...userPools.flatMap((pool) => (pool.domain ? [pool.domain] : []))]);
  const userPoolDomains: string[] = [];
  for (const prefix of prefixes) {
    const description = (await clients.cognito.send(new DescribeUserPoolDomainCommand({ Domain: prefix }))).DomainDescription;
    if (description?.Domain) userPoolDomains.push(description.Domain);
  }

  const clusterArns = (await clients.ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
  const clusters = clusterArns.length ? ((await clients.ecs.send(new DescribeClustersCommand({ clusters: clusterArns }))).clusters ?? []) : [];
  const activeClusters = clusters.filter((cluster) => cluster.status === 'ACTIVE').map((cluster) => cluster.clusterName ?? '');
  const containerInstances: ContainerInstance[] = [];
  const services: Service[] = [];
  for (const cluster of activeClusters) {
    const instanceArns = (await clients.ecs.send(new ListContainerInstancesCommand({ cluster }))).containerInstanceArns ?? [];
    if (instanceArns.length) {
      const described = (await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: instanceArns }))).containerInstances ?? [];
      containerInstances.push(...described.filter((instance) => instance.status === 'ACTIVE'));
    }
    const serviceArns = (await clients.ecs.send(new ListServicesCommand({ cluster }))).serviceArns ?? [];
    if (serviceArns.length) {
      const described = (await clients.ecs.send(new DescribeServicesCommand({ cluster, services: serviceArns }))).services ?? [];
      services.push(...described.filter((service) => service.status === 'ACTIVE'));
    }
  }
  const taskDefinitions = (await clients.ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns ?? [];

  const reservations = (await clients.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
  const instances = reservations.flatMap((reservation) => reservation.Instances ?? []).filter((instance) => instance.State?.Name !== 'terminated');
  const keyPairs = ((await clients.ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? []).map((pair) => pair.KeyName ?? '');
  const launchTemplates = ((await clients.ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates ?? []).map(
    (template) => `${template.LaunchTemplateName} ${template.LaunchTemplateId}`,
  );
  const stackSummaries = (await clients.cloudformation.send(new ListStacksCommand({}))).StackSummaries ?? [];
  const stacks = stackSummaries.filter((stack) => stack.StackStatus !== 'DELETE_COMPLETE').map((stack) => `${stack.StackName} ${stack.StackStatus}`);

  const logGroups = ((await clients.logs.send(new DescribeLogGroupsCommand({}))).logGroups ?? []).map((group) => group.logGroupName ?? '');
  // Service-linked roles are the account's, shared by every service that uses them: authecs creates
  // ECS's when it is missing (as the console does) and never deletes it.
  const roles = ((await clients.iam.send(new ListRolesCommand({}))).Roles ?? [])
    .filter((role) => !role.Path?.startsWith('/aws-service-role/'))
    .map((role) => `${role.Path}${role.RoleName}`);

  return {
    logGroups,
    roles,
    loadBalancers,
    listeners,
    rules,
    targetGroups,
    targets,
    certificates,
    hostedZones: zones.map((zone) => `${zone.Id} ${zone.Name}`),
    records,
    securityGroups: securityGroups.map((group) => group.GroupId ?? ''),
    securityGroupDetails,
    ingressRules,
    userPools,
    appClients,
    userPoolDomains,
    activeClusters,
    containerInstances,
    services,
    taskDefinitions,
    instances,
    keyPairs,
    launchTemplates,
    stacks,
  };
}

/** The inventory as sorted identifier lists, for toEqual comparisons. */
export function identifiers(inventory: Inventory): Record<string, string[]> {
  const sorted = (values: string[]) => [...values].sort();
  return {
    loadBalancers: sorted(inventory.loadBalancers.map((lb) => `${lb.LoadBalancerName} ${lb.LoadBalancerArn}`)),
    listeners: sorted(inventory.listeners.map((listener) => `${listener.Port} ${listener.ListenerArn}`)),
    rules: sorted(inventory.rules.map((rule) => `${rule.Priority} ${rule.RuleArn}`)),
    targetGroups: sorted(inventory.targetGroups.map((group) => `${group.TargetGroupName} ${group.TargetGroupArn}`)),
    targets: sorted(inventory.targets),
    certificates: sorted(inventory.certificates.map((certificate) => `${certificate.domain} ${certificate.arn}`)),
    hostedZones: sorted(inventory.hostedZones),
    records: sorted(
      inventory.records.map((record) => `${record.Name} ${record.Type} ${record.TTL ?? ''} ${(record.ResourceRecords ?? []).map((value) => value.Value).join(',')}`),
    ),
    securityGroups: sorted(inventory.securityGroups),
    ingressRules: sorted(inventory.ingressRules.map((rule) => `${rule.groupId} ${rule.protocol} ${rule.fromPort}-${rule.toPort} ${rule.cidr} ${rule.id}`)),
    userPools: sorted(inventory.userPools.map((pool) => `${pool.name} ${pool.id} ${pool.domain ?? ''}`)),
    appClients: sorted(inventory.appClients.map((client) => `${client.name} ${client.clientId}`)),
    userPoolDomains: sorted(inventory.userPoolDomains),
    activeClusters: sorted(inventory.activeClusters),
    containerInstances: sorted(inventory.containerInstances.map((instance) => `${instance.ec2InstanceId} ${instance.containerInstanceArn}`)),
    services: sorted(inventory.services.map((service) => `${service.serviceName} ${service.serviceArn}`)),
    taskDefinitions: sorted(inventory.taskDefinitions),
    instances: sorted(inventory.instances.map((instance) => `${instance.InstanceId} ${instance.State?.Name}`)),
    keyPairs: sorted(inventory.keyPairs),
    launchTemplates: sorted(inventory.launchTemplates),
    stacks: sorted(inventory.stacks),
    logGroups: sorted(inventory.logGroups),
    roles: sorted(inventory.roles),
  };
}

export async function snapshot(clients: EmulatorClients, options: { domainPrefixes?: string[] } = {}): Promise<Record<string, string[]>> {
  return identifiers(await readInventory(clients, options));
}

/** The records authecs may add to the zone (the site CNAME and ACM validation records). */
export function authecsRecords(inventory: Inventory): ResourceRecordSet[] {
  return inventory.records.filter((record) => record.Type !== 'SOA' && record.Type !== 'NS');
}

/**
 * Counts that must each be exactly one after any sequence of crashed and repeated `up` runs
 * (EC2 launch type, the article's names, the default --ingress isolated).
 */
export function resourceCounts(inventory: Inventory, domain: string): Record<string, number> {
  const domainName = `${domain}.`;
  return {
    'ALB named ecsauth': inventory.loadBalancers.filter((lb) => lb.LoadBalancerName === 'ecsauth').length,
    'load balancers': inventory.loadBalancers.length,
    'ALB security groups named ecsauth-alb': inventory.securityGroupDetails.filter((group) => group.name === 'ecsauth-alb').length,
    'security groups tagged by authecs': inventory.securityGroupDetails.filter((group) => group.stack !== undefined).length,
    [`certificates for ${domain}`]: inventory.certificates.filter((certificate) => certificate.domain === domain).length,
    'user pools named ecsauth_Pool': inventory.userPools.filter((pool) => pool.name === 'ecsauth_Pool').length,
    'app clients': inventory.appClients.length,
    'user pool domains': inventory.userPoolDomains.length,
    'target groups': inventory.targetGroups.length,
    'rules at priority 20': inventory.rules.filter((rule) => rule.Priority === '20').length,
    'parking rules (priority 50000)': inventory.rules.filter((rule) => rule.Priority === '50000').length,
    'listeners on 443': inventory.listeners.filter((listener) => listener.Port === 443).length,
    'listeners on 80': inventory.listeners.filter((listener) => listener.Port === 80).length,
    'site CNAME records': inventory.records.filter((record) => record.Name === domainName && record.Type === 'CNAME').length,
    'active clusters': inventory.activeClusters.length,
    'active services': inventory.services.length,
    'active task definitions': inventory.taskDefinitions.length,
  };
}
