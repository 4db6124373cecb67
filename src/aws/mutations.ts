// Operations that change something in the account. Reads start with Describe, List or Get.
const MUTATING = /^(Create|Delete|Put|Register|Deregister|Authorize|Revoke|Request|Change|Run|Terminate|Update|Modify|Add|Remove|Tag|Untag|Set|Import|Associate|Disassociate|Attach|Detach|Enable|Disable|Replace|Reset|Restore|Cancel|Start|Stop|Admin)/;

export function isMutatingOperation(operation: string): boolean {
  return MUTATING.test(operation);
}

// The first of these input fields that is present names the resource a call acted on.
const IDENTIFYING_FIELDS = [
  'LoadBalancerArn',
  'ListenerArn',
  'RuleArn',
  'TargetGroupArn',
  'CertificateArn',
  'UserPoolId',
  'Domain',
  'ClientName',
  'ClientId',
  'PoolName',
  'DomainName',
  'StackName',
  'GroupId',
  'KeyName',
  'LaunchTemplateName',
  'LaunchTemplateId',
  'InstanceIds',
  'service',
  'serviceName',
  'family',
  'taskDefinition',
  'taskDefinitions',
  'containerInstance',
  'clusterName',
  'cluster',
  'Name',
  'ResourceArn',
  'resourceArn',
] as const;

export function describeResource(operation: string, input: Record<string, unknown>, output: Record<string, unknown> | undefined): string {
  if (operation === 'ChangeResourceRecordSets') {
    const batch = input.ChangeBatch as { Changes?: { Action?: string; ResourceRecordSet?: { Name?: string; Type?: string } }[] } | undefined;
    return (batch?.Changes ?? []).map((change) => `${change.Action} ${change.ResourceRecordSet?.Type} ${change.ResourceRecordSet?.Name}`).join(', ');
  }
  if (operation === 'RunInstances') {
    const instances = (output?.Instances as { InstanceId?: string }[] | undefined) ?? [];
    return instances.map((instance) => instance.InstanceId).join(',') || String(input.LaunchTemplate ? JSON.stringify(input.LaunchTemplate) : 'instances');
  }
  if (operation === 'AuthorizeSecurityGroupIngress' || operation === 'RevokeSecurityGroupIngress') {
    const permissions = (input.IpPermissions as { FromPort?: number; IpRanges?: { CidrIp?: string }[] }[] | undefined) ?? [];
    const ports = permissions.map((permission) => `tcp/${permission.FromPort} from ${permission.IpRanges?.[0]?.CidrIp ?? '?'}`);
    const ids = (input.SecurityGroupRuleIds as string[] | undefined) ?? [];
    return `${input.GroupId} ${[...ports, ...ids].join(', ')}`.trim();
  }
  if (operation === 'RequestCertificate' && typeof output?.CertificateArn === 'string') return output.CertificateArn;
  if (operation === 'CreateUserPool') return String((output?.UserPool as { Id?: string } | undefined)?.Id ?? input.PoolName);
  for (const field of IDENTIFYING_FIELDS) {
    const value = input[field];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(',');
  }
  return operation;
}
