import { classifyAwsError } from '../aws/errors.js';
import { AuthecsError } from '../errors.js';
import type { StepName, StepOutputs } from '../steps/outputs.js';
import type { AnyResource, Recovered } from '../steps/resource.js';
import { currentStep, type EngineEnvironment } from './context.js';
import { runGraph } from './graph.js';
import { contextFor, isEnabled, loose, type LooseLive } from './reconcile.js';

/**
 * Finding a stack without its state file (issue 11): every resource is tagged with the stack or
 * named from its settings, and what takes no tag is found through its parent by exact values.
 * `status` and `down` use it to refuse "nothing to delete" while the stack runs; `recover` to
 * rebuild the state file from it.
 */

export interface FoundResource {
  step: StepName;
  title: string;
  /** The identifier people know it by: an ARN, ID or name. */
  id: string;
  /** True when authecs made it (tagged as this stack's, or untagged but tied to it); false for the zone or network it uses. */
  created: boolean;
}

export interface NotFound {
  step: StepName;
  title: string;
  reason: string;
}

export interface Discovery {
  found: FoundResource[];
  notFound: NotFound[];
}

/** How a resource is named in the output, where its output's first identifier would not do. */
const ID_OF: { [Name in StepName]?: (output: StepOutputs[Name]) => string } = {
  network: (output) => `${output.vpcId}${output.stackName ? ` (stack ${output.stackName})` : ''}`,
  'hosted-zone': (output) => `${output.hostedZoneId} (${output.zoneName})`,
  'load-balancer-security-group': (output) => output.groupId,
  'security-group-ingress': (output) => `${output.rules.length} rule(s) on ${[...new Set(output.rules.map((rule) => rule.groupId))].join(', ') || output.groupId}`,
  'load-balancer': (output) => output.loadBalancerArn,
  'dns-record': (output) => `${output.recordName} ${output.type} ${output.value}`,
  certificate: (output) => output.certificateArn,
  'https-listener': (output) => output.listenerArn,
  'http-redirect-listener': (output) => output.listenerArn,
  'user-pool': (output) => output.userPoolId,
  'app-client': (output) => output.clientId,
  'user-pool-domain': (output) => output.domain,
  'target-group': (output) => output.targetGroupArn,
  'host-rule': (output) => output.ruleArn,
  'parking-rule': (output) => output.ruleArn,
  cluster: (output) => output.clusterArn,
  'key-pair': (output) => output.keyName,
  capacity: (output) => `${output.launchTemplateId ?? output.launchTemplateName ?? 'launch template'}, ${output.instanceIds.length} instance(s)`,
  'log-group': (output) => output.logGroupName,
  'execution-role': (output) => output.roleArn,
  'task-definition': (output) => output.taskDefinitionArn,
  service: (output) => output.serviceArn,
};

const ID_FIELDS = ['ruleArn', 'listenerArn', 'loadBalancerArn', 'targetGroupArn', 'certificateArn', 'serviceArn', 'clusterArn', 'roleArn', 'taskDefinitionArn', 'userPoolId', 'clientId', 'groupId', 'name'];

function idOf(step: StepName, output: object): string {
  const named = ID_OF[step] as ((output: object) => string) | undefined;
  if (named) return named(output);
  const values = output as Record<string, unknown>;
  const field = ID_FIELDS.find((key) => typeof values[key] === 'string');
  return field ? (values[field] as string) : JSON.stringify(output);
}

async function recovered(step: AnyResource, environment: EngineEnvironment): Promise<Recovered<StepName, Record<string, unknown>> | undefined> {
  const resource = loose(step);
  const context = contextFor(step, environment, { readOnly: true });
  if (resource.recover) return resource.recover(context);
  const live: LooseLive | undefined = await resource.read(context);
  return live && { live };
}

/**
 * Reads every step the settings enable, with no record, along the dependency graph: what a step
 * finds goes into `environment.state` (a detached one: nothing reaches the disk) as complete, so
 * its dependents look for theirs through it. Read-only towards AWS. A name held by something
 * that is not this stack's (a conflict) counts as not found.
 */
export async function discover(environment: EngineEnvironment, steps: readonly AnyResource[]): Promise<Discovery> {
  const { state, config } = environment;
  if (state.resourceNames.length > 0) {
    throw new AuthecsError('discover() needs an empty state', { code: 'DISCOVER_STATE_NOT_EMPTY', exit: 'internal' });
  }
  const active = steps.filter((step) => isEnabled(step, config));
  const activeNames = new Set<string>(active.map((step) => step.name));
  const found = new Map<StepName, FoundResource>();
  const notFound = new Map<StepName, NotFound[]>();
  const miss = (step: AnyResource, reason: string) => notFound.set(step.name, [...(notFound.get(step.name) ?? []), { step: step.name, title: step.title, reason }]);

  await runGraph(
    active.map((step) => ({
      name: step.name,
      waitsFor: step.dependsOn.filter((dependency) => activeNames.has(dependency)),
      run: () =>
        currentStep.run(step.name, async () => {
          let result: Recovered<StepName, Record<string, unknown>> | undefined;
          try {
            result = await recovered(step, environment);
          } catch (error) {
            const classified = classifyAwsError(error, { step: step.name, endpointUrl: config.endpointUrl });
            if (classified.exit !== 'conflict') throw classified;
            miss(step, `held by something that is not this stack's: ${classified.message}`);
            return;
          }
          if (!result) {
            const missing = step.dependsOn.filter((dependency) => activeNames.has(dependency) && !found.has(dependency));
            miss(step, missing.length > 0 ? `not found (nor was ${missing.join(', ')}, which it depends on)` : 'not found');
            return;
          }
          const { live, lost } = result;
          state.update(step.name, { created: live.created, complete: true, data: live.output as unknown as Record<string, unknown> });
          found.set(step.name, { step: step.name, title: step.title, id: idOf(step.name, live.output), created: live.created });
          for (const what of lost ?? []) miss(step, what);
        }),
    })),
  );
  // In the steps' order (the article's), whatever order the graph finished them in.
  return {
    found: active.flatMap((step) => (found.has(step.name) ? [found.get(step.name)!] : [])),
    notFound: active.flatMap((step) => notFound.get(step.name) ?? []),
  };
}

/** What only authecs made counts as the stack: the hosted zone and a network it found are not. */
export function stackResources(discovery: Discovery): FoundResource[] {
  return discovery.found.filter((resource) => resource.created);
}
