/**
 * What AWS does by itself and moto does not (the ECS agent registering instances, ECS
 * registering task targets) lives in ONE module, scripts/lib/agent-stand-in.mjs, shared with
 * the demo. Read its header comment for what each stand-in replaces on real AWS.
 */
export { clusterFromUserData, privateIpsFor, startAgentStandIn, type AgentStandIn } from '../../scripts/lib/agent-stand-in.mjs';
