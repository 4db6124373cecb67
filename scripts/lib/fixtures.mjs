// The resources a user already has before running authecs (the article's prerequisites):
// a public hosted zone for the domain's apex, the "ecsplatform" network stack built from the
// project's own templates/network.yaml, and the ecsInstanceRole instance profile.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeAvailabilityZonesCommand } from '@aws-sdk/client-ec2';
import { AddRoleToInstanceProfileCommand, AttachRolePolicyCommand, CreateInstanceProfileCommand, CreateRoleCommand } from '@aws-sdk/client-iam';
import { CreateHostedZoneCommand } from '@aws-sdk/client-route-53';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NETWORK_TEMPLATE = join(PROJECT_ROOT, 'templates', 'network.yaml');
export const NETWORK_STACK = 'ecsplatform';
export const INSTANCE_PROFILE = 'ecsInstanceRole';

const EC2_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** The apex a public zone would be created for: the last two labels (www.example.com -> example.com). */
export function apexOf(domain) {
  return domain.split('.').slice(-2).join('.');
}

/**
 * Seeds the fixtures into a clean emulator and returns their identifiers.
 * `clients` comes from emulatorClients(); `domain` is the site name (www.example.com).
 */
export async function seedFixtures(clients, options = {}) {
  const domain = options.domain ?? 'www.example.com';
  const zoneName = apexOf(domain);

  const zone = await clients.route53.send(
    new CreateHostedZoneCommand({ Name: zoneName, CallerReference: `authecs-fixture-${Date.now()}-${Math.random()}` }),
  );
  const hostedZoneId = zone.HostedZone.Id.replace(/^\/hostedzone\//, '');

  // !GetAZs '' resolves to us-east-1 in moto, so the template takes its AZs as parameters.
  const zones = await clients.ec2.send(new DescribeAvailabilityZonesCommand({}));
  const [az1, az2] = (zones.AvailabilityZones ?? []).map((az) => az.ZoneName).filter(Boolean).sort();
  if (!az1 || !az2) throw new Error('the emulator reported fewer than two availability zones');
  const template = readFileSync(options.templatePath ?? NETWORK_TEMPLATE, 'utf8');
  const parameters = [
    { ParameterKey: 'AZ1', ParameterValue: az1 },
    { ParameterKey: 'AZ2', ParameterValue: az2 },
  ];
  if (/^\s{2}EnvironmentName:/m.test(template)) parameters.push({ ParameterKey: 'EnvironmentName', ParameterValue: NETWORK_STACK });
  const created = await clients.cloudformation.send(new CreateStackCommand({ StackName: NETWORK_STACK, TemplateBody: template, Parameters: parameters }));
  const described = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: NETWORK_STACK }));
  const stack = described.Stacks?.[0];
  if (stack?.StackStatus !== 'CREATE_COMPLETE') throw new Error(`network stack ${NETWORK_STACK} is ${stack?.StackStatus ?? 'missing'}`);
  const outputs = Object.fromEntries((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
  for (const key of ['VPC', 'PublicSubnet1', 'PublicSubnet2', 'PrivateSubnet1', 'PrivateSubnet2', 'NoIngressSecurityGroup']) {
    if (!outputs[key]) throw new Error(`network stack ${NETWORK_STACK} has no output ${key}`);
  }

  await clients.iam.send(new CreateRoleCommand({ RoleName: INSTANCE_PROFILE, AssumeRolePolicyDocument: EC2_TRUST_POLICY }));
  // As the ECS guides make ecsInstanceRole: the agent's policy, which also lets awslogs write on EC2.
  await clients.iam.send(new AttachRolePolicyCommand({ RoleName: INSTANCE_PROFILE, PolicyArn: 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role' }));
  const profile = await clients.iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: INSTANCE_PROFILE }));
  await clients.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: INSTANCE_PROFILE, RoleName: INSTANCE_PROFILE }));

  return {
    domain,
    zoneName,
    hostedZoneId,
    networkStackName: NETWORK_STACK,
    networkStackId: created.StackId,
    availabilityZones: [az1, az2],
    vpcId: outputs.VPC,
    publicSubnets: [outputs.PublicSubnet1, outputs.PublicSubnet2],
    privateSubnets: [outputs.PrivateSubnet1, outputs.PrivateSubnet2],
    securityGroupId: outputs.NoIngressSecurityGroup,
    instanceProfileName: INSTANCE_PROFILE,
    instanceProfileArn: profile.InstanceProfile?.Arn,
  };
}
