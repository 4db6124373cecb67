/**
 * What AWS does by itself and moto does not (the ECS agent registering instances, ECS
 * registering task targets) lives in ONE module, scripts/lib/agent-stand-in.mjs, shared with
 * the demo. Read its header comment for what each stand-in replaces on real AWS.
 */
export { clusterFromUserData, imageReference, privateIpsFor, startAgentStandIn, UNPULLABLE_TAG, unpullableImage, type AgentStandIn } from '../../scripts/lib/agent-stand-in.mjs';
