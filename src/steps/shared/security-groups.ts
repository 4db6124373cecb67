import {
  paginateDescribeSecurityGroupRules,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type RevokeSecurityGroupIngressCommandInput,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { hasErrorCode } from '../../aws/errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';
import { retryWhileInUse } from './poll.js';

/** The address range the article opens its ports to. */
export const ANYWHERE = '0.0.0.0/0';

// ENIs of a deleted ALB keep a group "in use" for minutes; Terraform waits up to 35 (aws-behaviour.md).
export const IN_USE_POLL_SECONDS = 15;

/** One TCP port, from an address range or from another security group. */
export interface TcpSource {
  port: number;
  cidr?: string;
  sourceGroupId?: string;
}

export function isTcp(protocol: string | undefined): boolean {
  return protocol === 'tcp' || protocol === '6';
}

export function describeSource(rule: TcpSource): string {
  return `tcp/${rule.port} from ${rule.cidr ?? rule.sourceGroupId ?? '?'}`;
}

export function tcpPermission(rule: TcpSource): IpPermission {
  return {
    IpProtocol: 'tcp',
    FromPort: rule.port,
    ToPort: rule.port,
    ...(rule.cidr !== undefined ? { IpRanges: [{ CidrIp: rule.cidr }] } : { UserIdGroupPairs: [{ GroupId: rule.sourceGroupId! }] }),
  };
}

/** Whether a live rule admits exactly this one TCP port from exactly this source. */
export function ruleMatches(rule: SecurityGroupRule, wanted: TcpSource): boolean {
  const source = wanted.cidr !== undefined ? rule.CidrIpv4 === wanted.cidr : rule.ReferencedGroupInfo?.GroupId === wanted.sourceGroupId;
  return isTcp(rule.IpProtocol) && rule.FromPort === wanted.port && rule.ToPort === wanted.port && source;
}

/** A group's ingress rules (egress left out), every page. */
export async function describeIngressRules<Name extends StepName>(context: StepContext<Name>, groupId: string): Promise<SecurityGroupRule[]> {
  const rules: SecurityGroupRule[] = [];
  for await (const page of paginateDescribeSecurityGroupRules({ client: context.clients.ec2 }, { Filters: [{ Name: 'group-id', Values: [groupId] }] })) {
    rules.push(...(page.SecurityGroupRules ?? []).filter((rule) => !rule.IsEgress));
  }
  return rules;
}

/**
 * RevokeSecurityGroupIngress, waiting out DependencyViolation while ENIs linger; a rule or
 * group that is already gone counts as revoked.
 */
export async function revokeIngress<Name extends StepName>(context: StepContext<Name>, input: RevokeSecurityGroupIngressCommandInput, description: string): Promise<void> {
  await retryWhileInUse(
    context,
    {
      description: `revoke ${description} on ${input.GroupId}`,
      codes: ['DependencyViolation'],
      intervalSeconds: IN_USE_POLL_SECONDS,
      call: async () => {
        try {
          await context.clients.ec2.send(new RevokeSecurityGroupIngressCommand(input));
        } catch (error) {
          if (!hasErrorCode(error, 'InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound', 'InvalidGroup.NotFound')) throw error;
        }
      },
    },
    hasErrorCode,
  );
}
