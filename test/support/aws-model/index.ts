/**
 * The AWS behaviour model (issue 8, section 4): a loopback proxy in front of moto that refuses
 * what AWS refuses, makes transitional states last, and injects seeded faults. The core is plain
 * ESM in scripts/lib/aws-model.mjs so that `npm run chaos` can use it; read its header comment.
 */
export {
  circuitBreakerThreshold,
  createEcsServiceLinkedRole,
  describeRequest,
  dnsName,
  drawFor,
  errorResponse,
  FAULT_KINDS,
  mulberry32,
  parseChangeBatch,
  REAL_AWS_SECONDS,
  RETENTION_DAYS,
  RULES,
  startAwsModel,
  THROTTLING,
  type AwsModel,
  type AwsModelOptions,
  type AwsTimings,
  type EnforcedRule,
  type FaultCounts,
  type FaultKind,
  type FaultOptions,
  type PlannedFault,
  type RuleId,
} from '../../../scripts/lib/aws-model.mjs';

import type { AwsModelOptions } from '../../../scripts/lib/aws-model.mjs';

/** Options for setupE2e({ awsModel }): everything but the upstream, which is the file's moto. */
export type AwsModelSetup = Omit<AwsModelOptions, 'upstream'>;

/** 1/100 of real AWS: an ALB provisions in 1.2 s, ACM issues 1.8 s after its CNAME is in sync. */
export const E2E_SCALE = 0.01;
