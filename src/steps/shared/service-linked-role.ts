import { CreateServiceLinkedRoleCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { hasErrorCode } from '../../aws/errors.js';
import type { StepName } from '../outputs.js';
import type { StepContext } from '../step.js';

/**
 * ECS's service-linked role. A new account may lack it: CreateCluster makes it only when the
 * caller may, and CreateService then fails "Unable to assume the service linked role" (ECS API
 * Reference, CreateCluster; openemr/openemr-on-ecs#8, aws-samples/baseline-environment-on-aws#238).
 */
export const ECS_SERVICE_LINKED_ROLE = 'AWSServiceRoleForECS';
export const ECS_SERVICE_PRINCIPAL = 'ecs.amazonaws.com';

/** CreateService's answer while the role is missing or a moment old (awslabs/fargatecli#35). */
export const SERVICE_LINKED_ROLE_NOT_READY = /Unable to assume the service linked role/i;

export type RoleState = 'exists' | 'missing' | 'unknown';

/** Whether the role exists; 'unknown' when the caller may not read it (iam:GetRole denied). */
export async function serviceLinkedRoleState<Name extends StepName>(context: StepContext<Name>): Promise<RoleState> {
  try {
    await context.clients.iam.send(new GetRoleCommand({ RoleName: ECS_SERVICE_LINKED_ROLE }));
    return 'exists';
  } catch (error) {
    if (hasErrorCode(error, 'NoSuchEntity', 'NoSuchEntityException')) return 'missing';
    if (hasErrorCode(error, 'AccessDenied', 'AccessDeniedException')) return 'unknown';
    throw error;
  }
}

/** Creates the role when GetRole says it is missing; one made meanwhile by someone else counts as there. */
export async function ensureServiceLinkedRole<Name extends StepName>(context: StepContext<Name>): Promise<void> {
  if ((await serviceLinkedRoleState(context)) !== 'missing') return;
  context.progress(`creating the ECS service-linked role ${ECS_SERVICE_LINKED_ROLE} (iam:CreateServiceLinkedRole)`);
  try {
    await context.clients.iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: ECS_SERVICE_PRINCIPAL }));
  } catch (error) {
    // IAM API Reference, CreateServiceLinkedRole: InvalidInput "Service role name ... has been taken in this account".
    if (hasErrorCode(error, 'InvalidInput', 'InvalidInputException') && /has been taken in this account/i.test((error as Error).message)) return;
    throw error;
  }
}
