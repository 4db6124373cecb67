import { appClientStep } from './app-client.js';
import { capacityStep } from './capacity.js';
import { certificateStep } from './certificate.js';
import { clusterStep } from './cluster.js';
import { dnsRecordStep } from './dns-record.js';
import { executionRoleStep } from './execution-role.js';
import { hostRuleStep } from './host-rule.js';
import { hostedZoneStep } from './hosted-zone.js';
import { httpRedirectListenerStep } from './http-redirect-listener.js';
import { httpsListenerStep } from './https-listener.js';
import { keyPairStep } from './key-pair.js';
import { loadBalancerSecurityGroupStep } from './load-balancer-security-group.js';
import { loadBalancerStep } from './load-balancer.js';
import { logGroupStep } from './log-group.js';
import { networkStep } from './network.js';
import { parkingRuleStep } from './parking-rule.js';
import { publicPathRuleStep } from './public-path-rule.js';
import { securityGroupIngressStep } from './security-group-ingress.js';
import { serviceStep } from './service.js';
import type { AnyResource } from './resource.js';
import { targetGroupStep } from './target-group.js';
import { taskDefinitionStep } from './task-definition.js';
import { userPoolDomainStep } from './user-pool-domain.js';
import { userPoolStep } from './user-pool.js';

/**
 * Every step, in the article's order. The engine runs each one as soon as the steps in its
 * dependsOn have finished (so independent branches overlap), and `down` runs them in reverse.
 */
export const STEPS: readonly AnyResource[] = [
  networkStep,
  loadBalancerSecurityGroupStep,
  securityGroupIngressStep,
  loadBalancerStep,
  hostedZoneStep,
  dnsRecordStep,
  certificateStep,
  httpsListenerStep,
  httpRedirectListenerStep,
  userPoolStep,
  appClientStep,
  userPoolDomainStep,
  targetGroupStep,
  hostRuleStep,
  publicPathRuleStep,
  parkingRuleStep,
  clusterStep,
  keyPairStep,
  capacityStep,
  logGroupStep,
  executionRoleStep,
  taskDefinitionStep,
  serviceStep,
];
