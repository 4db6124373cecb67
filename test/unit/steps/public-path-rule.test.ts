import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  SetRulePrioritiesCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicPathRuleStep } from '../../../src/steps/public-path-rule.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const LISTENER_ARN = SAMPLE_OUTPUTS['https-listener'].listenerArn;
const RULE = SAMPLE_OUTPUTS['public-path-rule'];
const HOST_RULE_ARN = SAMPLE_OUTPUTS['host-rule'].ruleArn;
const TG_ARN = SAMPLE_OUTPUTS['target-group'].targetGroupArn;
const PATHS = ['/signed-out', '/assets/*'];

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

// Host AND path (both conditions must hold); forward with no authenticate action before it.
const CONDITIONS = [
  { Field: 'host-header', HostHeaderConfig: { Values: ['www.example.com'] } },
  { Field: 'path-pattern', PathPatternConfig: { Values: ['/assets/*', '/signed-out'] } },
];
const ACTIONS = [{ Type: 'forward', TargetGroupArn: TG_ARN, Order: 1 }];
const TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];

/** The rule as DescribeRules returns it: legacy Values filled in, forward with a ForwardConfig too. */
function liveRule(overrides: { priority?: string; arn?: string; paths?: string[]; host?: string; targetGroupArn?: string } = {}): Rule {
  const host = overrides.host ?? 'www.example.com';
  const paths = overrides.paths ?? ['/signed-out', '/assets/*'];
  const targetGroupArn = overrides.targetGroupArn ?? TG_ARN;
  return {
    RuleArn: overrides.arn ?? RULE.ruleArn,
    Priority: overrides.priority ?? '19',
    IsDefault: false,
    Conditions: [
      { Field: 'path-pattern', Values: paths, PathPatternConfig: { Values: paths } },
      { Field: 'host-header', Values: [host], HostHeaderConfig: { Values: [host] } },
    ],
    Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn, Order: 1, ForwardConfig: { TargetGroups: [{ TargetGroupArn: targetGroupArn, Weight: 1 }] } }],
  };
}

const hostRule: Rule = { RuleArn: HOST_RULE_ARN, Priority: '20', Conditions: [{ Field: 'host-header', Values: ['www.example.com'] }], Actions: [{ Type: 'authenticate-cognito', Order: 1 }, { Type: 'forward', Order: 2 }] };
const defaultRule: Rule = { RuleArn: `${RULE.ruleArn}-default`, Priority: 'default', IsDefault: true, Conditions: [], Actions: [{ Type: 'redirect' }] };
const foreignRule: Rule = {
  RuleArn: `${RULE.ruleArn}-foreign`,
  Priority: '19',
  Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/admin/*'] } }],
  Actions: [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '403' } }],
};
const noTags = { TagDescriptions: [{ ResourceArn: foreignRule.RuleArn, Tags: [{ Key: 'team', Value: 'other' }] }] };

describe('public-path-rule step', () => {
  let harness: StepHarness<'public-path-rule'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('is enabled only with --public-path: without it the engine deletes the rule', () => {
    expect(publicPathRuleStep.enabled!(articleConfig())).toBe(false);
    expect(publicPathRuleStep.enabled!(articleConfig({ publicPaths: ['/signed-out'] }))).toBe(true);
  });

  it('creates one rule just before the host rule (priority 19): host AND paths, forward without sign-in, tagged, intent recorded first', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS } });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule, hostRule] });
    let recordAtCreate: unknown;
    elbv2.on(CreateRuleCommand).callsFake(() => {
      recordAtCreate = harness.state.get('public-path-rule');
      return { Rules: [liveRule()] };
    });

    expect(await publicPathRuleStep.read(harness.readContext)).toBeUndefined();
    const output = await publicPathRuleStep.create(harness.context, publicPathRuleStep.desired(harness.config, harness.inputs));

    expect(elbv2.commandCalls(CreateRuleCommand).map((call) => call.args[0].input)).toEqual([{ ListenerArn: LISTENER_ARN, Priority: 19, Conditions: CONDITIONS, Actions: ACTIONS, Tags: TAGS }]);
    expect(recordAtCreate).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN, priority: 19 } });
    expect(output).toEqual(RULE);
    expect(harness.state.get('public-path-rule')).toMatchObject({ created: true, data: RULE });
  });

  it('desired: sorted, de-duplicated paths; a listener or target group about to be made is unknown', () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: ['/signed-out', '/assets/*', '/signed-out'], rulePriority: 7 } });

    expect(publicPathRuleStep.desired(harness.config, { ...harness.inputs, 'https-listener': UNKNOWN, 'target-group': UNKNOWN })).toEqual({
      listenerArn: UNKNOWN,
      priority: 6,
      host: 'www.example.com',
      paths: ['/assets/*', '/signed-out'],
      targetGroupArn: UNKNOWN,
    });
  });

  it('reads the recorded rule by ARN, and it matches what up wants (the order AWS returns the conditions in does not matter)', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    const before = JSON.stringify(harness.state.get('public-path-rule'));

    const found = await publicPathRuleStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: RULE, health: { healthy: true, summary: 'priority 19: /assets/*, /signed-out without sign-in' } });
    expect(diffFields(publicPathRuleStep.desired(harness.config, harness.inputs), found!.observed, publicPathRuleStep.effects)).toEqual([]);
    expect(JSON.stringify(harness.state.get('public-path-rule'))).toBe(before);
  });

  it('read adopts our tagged rule a killed run left at priority 19, and refuses a rule of someone else there, naming --rule-priority', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: ['/health'] }, record: { created: true, complete: false, data: { listenerArn: LISTENER_ARN, priority: 19 } } });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule, liveRule(), hostRule] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: RULE.ruleArn, Tags: TAGS }] });

    const found = await publicPathRuleStep.read(harness.readContext);
    expect(found?.output.ruleArn).toBe(RULE.ruleArn);
    expect(diffFields(publicPathRuleStep.desired(harness.config, harness.inputs), found!.observed, publicPathRuleStep.effects)).toEqual([
      { field: 'paths', from: ['/assets/*', '/signed-out'], to: ['/health'], effect: 'update' },
    ]);

    elbv2.reset();
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule, foreignRule, hostRule] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);
    await expect(publicPathRuleStep.read(harness.readContext)).rejects.toMatchObject({
      code: 'RULE_PRIORITY_IN_USE',
      exit: 'conflict',
      message: expect.stringContaining('Priority 19 (for the public-path rule)'),
      hint: expect.stringContaining('--rule-priority'),
    });
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
  });

  it('maps PriorityInUse from CreateRule to the same conflict', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS } });
    elbv2.on(CreateRuleCommand).rejects(error('PriorityInUseException', 'The specified priority is in use.'));

    await expect(publicPathRuleStep.create(harness.context, publicPathRuleStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE', exit: 'conflict' });
  });

  it('new paths are an update in place: exactly one ModifyRule with both conditions and the forward action, nothing else', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: ['/health', '/signed-out'] }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(ModifyRuleCommand).resolves({});

    const found = await publicPathRuleStep.read(harness.readContext);
    const want = publicPathRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, publicPathRuleStep.effects);
    const output = await publicPathRuleStep.update!(harness.context, want, found!, changes);

    expect(changes).toEqual([{ field: 'paths', from: ['/assets/*', '/signed-out'], to: ['/health', '/signed-out'], effect: 'update' }]);
    expect(elbv2.commandCalls(ModifyRuleCommand).map((call) => call.args[0].input)).toEqual([
      {
        RuleArn: RULE.ruleArn,
        Conditions: [
          { Field: 'host-header', HostHeaderConfig: { Values: ['www.example.com'] } },
          { Field: 'path-pattern', PathPatternConfig: { Values: ['/health', '/signed-out'] } },
        ],
        Actions: ACTIONS,
      },
    ]);
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(output).toEqual(RULE);
  });

  it('an authenticate action added out of band is drift that ModifyRule takes away again', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS }, record: { created: true, complete: true, data: RULE } });
    const drifted = liveRule();
    drifted.Actions = [{ Type: 'authenticate-cognito', Order: 1 }, { ...drifted.Actions![0]!, Order: 2 }];
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [drifted] });

    const found = await publicPathRuleStep.read(harness.readContext);
    expect(diffFields(publicPathRuleStep.desired(harness.config, harness.inputs), found!.observed, publicPathRuleStep.effects)).toEqual([
      { field: 'targetGroupArn', from: undefined, to: TG_ARN, effect: 'update' },
    ]);
  });

  it('--rule-priority 30 moves it to 29 with SetRulePriorities only; onto a priority someone else holds, it refuses', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS, rulePriority: 30 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [liveRule(), { ...hostRule, Priority: '30' }] });
    elbv2.on(SetRulePrioritiesCommand).resolves({});

    const found = await publicPathRuleStep.read(harness.readContext);
    const want = publicPathRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, publicPathRuleStep.effects);
    const output = await publicPathRuleStep.update!(harness.context, want, found!, changes);

    expect(changes).toEqual([{ field: 'priority', from: 19, to: 29, effect: 'update' }]);
    expect(elbv2.commandCalls(SetRulePrioritiesCommand).map((call) => call.args[0].input)).toEqual([{ RulePriorities: [{ RuleArn: RULE.ruleArn, Priority: 29 }] }]);
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
    expect(output).toEqual({ ...RULE, priority: 29 });

    elbv2.reset();
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [liveRule(), { ...foreignRule, Priority: '29' }] });
    await expect(publicPathRuleStep.update!(harness.context, want, found!, changes)).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE' });
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
  });

  it('a new listener is a replacement (a rule belongs to one listener)', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });

    const found = await publicPathRuleStep.read(harness.readContext);
    expect(diffFields(publicPathRuleStep.desired(harness.config, { ...harness.inputs, 'https-listener': UNKNOWN }), found!.observed, publicPathRuleStep.effects)).toEqual([
      { field: 'listenerArn', from: LISTENER_ARN, to: UNKNOWN, effect: 'replace' },
    ]);
  });

  it('delete removes the recorded rule (from its record alone, as when --public-path is dropped) and tolerates one already gone', async () => {
    harness = stepHarness(publicPathRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DeleteRuleCommand).rejects(error('RuleNotFoundException'));

    await expect(publicPathRuleStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input)).toEqual([{ RuleArn: RULE.ruleArn }]);
  });

  it('delete after a crash before the ARN was recorded removes the rule at our priority only if it carries our tag', async () => {
    harness = stepHarness(publicPathRuleStep, { record: { created: true, complete: false, data: { listenerArn: LISTENER_ARN, priority: 19 } } });
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, liveRule(), hostRule] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: RULE.ruleArn, Tags: TAGS }] });
    elbv2.on(DeleteRuleCommand).resolves({});

    await publicPathRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input.RuleArn)).toEqual([RULE.ruleArn]);

    elbv2.reset();
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, foreignRule, hostRule] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);
    await publicPathRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand)).toHaveLength(0);
  });

  it('read finds nothing, and calls nothing, before the listener exists', async () => {
    harness = stepHarness(publicPathRuleStep, { config: { publicPaths: PATHS } });
    harness.state.remove('https-listener');

    expect(await publicPathRuleStep.read(harness.readContext)).toBeUndefined();
    expect(elbv2.calls()).toHaveLength(0);
  });
});
