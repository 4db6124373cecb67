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
import { NO_CLIENT_SOURCE, PARKING_PRIORITY, parkingRuleStep } from '../../../src/steps/parking-rule.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const HTTP_LISTENER_ARN = SAMPLE_OUTPUTS['http-redirect-listener'].listenerArn;
const RULE = SAMPLE_OUTPUTS['parking-rule'];
const TG_ARN = SAMPLE_OUTPUTS['target-group'].targetGroupArn;

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

// One condition no TCP client can meet (the limited broadcast address as source), and a plain forward.
const CONDITIONS = [{ Field: 'source-ip', SourceIpConfig: { Values: ['255.255.255.255/32'] } }];
const ACTIONS = [{ Type: 'forward', TargetGroupArn: TG_ARN, Order: 1 }];
const TAGS = [
  { Key: 'authecs:stack', Value: 'ecsauth' },
  { Key: 'managed-by', Value: 'authecs' },
];

/** The rule as DescribeRules returns it: forward with a ForwardConfig too. */
function liveRule(overrides: { priority?: string; arn?: string; sources?: string[]; targetGroupArn?: string } = {}): Rule {
  const targetGroupArn = overrides.targetGroupArn ?? TG_ARN;
  return {
    RuleArn: overrides.arn ?? RULE.ruleArn,
    Priority: overrides.priority ?? '50000',
    IsDefault: false,
    Conditions: [{ Field: 'source-ip', SourceIpConfig: { Values: overrides.sources ?? ['255.255.255.255/32'] } }],
    Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn, Order: 1, ForwardConfig: { TargetGroups: [{ TargetGroupArn: targetGroupArn, Weight: 1 }] } }],
  };
}

const defaultRule: Rule = { RuleArn: `${RULE.ruleArn}-default`, Priority: 'default', IsDefault: true, Conditions: [], Actions: [{ Type: 'redirect' }] };
const foreignRule: Rule = {
  RuleArn: `${RULE.ruleArn}-foreign`,
  Priority: '50000',
  Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/legacy/*'] } }],
  Actions: [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '410' } }],
};

describe('parking-rule step', () => {
  let harness: StepHarness<'parking-rule'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it('exists only with the HTTP listener: --no-http-redirect disables it (the engine deletes it)', () => {
    expect(parkingRuleStep.enabled!(articleConfig())).toBe(true);
    expect(parkingRuleStep.enabled!(articleConfig({ httpRedirect: false }))).toBe(false);
    expect(parkingRuleStep.dependsOn).toEqual(['http-redirect-listener', 'target-group']);
  });

  it('creates one rule on the HTTP listener at priority 50000: source-ip 255.255.255.255/32, forward to the target group, tagged, intent first', async () => {
    harness = stepHarness(parkingRuleStep);
    elbv2.on(DescribeRulesCommand, { ListenerArn: HTTP_LISTENER_ARN }).resolves({ Rules: [defaultRule] });
    let recordAtCreate: unknown;
    elbv2.on(CreateRuleCommand).callsFake(() => {
      recordAtCreate = harness.state.get('parking-rule');
      return { Rules: [liveRule()] };
    });

    expect(await parkingRuleStep.read(harness.readContext)).toBeUndefined();
    const output = await parkingRuleStep.create(harness.context, parkingRuleStep.desired(harness.config, harness.inputs));

    expect(elbv2.commandCalls(CreateRuleCommand).map((call) => call.args[0].input)).toEqual([
      { ListenerArn: HTTP_LISTENER_ARN, Priority: 50000, Conditions: CONDITIONS, Actions: ACTIONS, Tags: TAGS },
    ]);
    expect(recordAtCreate).toMatchObject({ created: true, data: { listenerArn: HTTP_LISTENER_ARN, priority: 50000 } });
    expect(output).toEqual(RULE);
    expect(harness.state.get('parking-rule')).toMatchObject({ created: true, complete: false, data: RULE });
  });

  it('desired: the HTTP listener and target group about to be made are unknown; the rest is fixed', () => {
    harness = stepHarness(parkingRuleStep);
    expect(parkingRuleStep.desired(harness.config, { ...harness.inputs, 'http-redirect-listener': UNKNOWN, 'target-group': UNKNOWN })).toEqual({
      listenerArn: UNKNOWN,
      priority: PARKING_PRIORITY,
      sourceIp: NO_CLIENT_SOURCE,
      targetGroupArn: UNKNOWN,
    });
  });

  it('reads the recorded rule by ARN without writing; it matches what up wants, and status calls it healthy', async () => {
    harness = stepHarness(parkingRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    const before = JSON.stringify(harness.state.get('parking-rule'));

    const found = await parkingRuleStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: RULE, health: { healthy: true, summary: expect.stringContaining('source 255.255.255.255/32 (no request matches)') } });
    expect(diffFields(parkingRuleStep.desired(harness.config, harness.inputs), found!.observed, parkingRuleStep.effects)).toEqual([]);
    expect(JSON.stringify(harness.state.get('parking-rule'))).toBe(before);
  });

  it('a condition changed out of band (one that real clients could match) is drift: unhealthy, and update puts the whole rule back with ModifyRule', async () => {
    harness = stepHarness(parkingRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule({ sources: ['0.0.0.0/0'] })] });
    elbv2.on(ModifyRuleCommand).resolves({ Rules: [liveRule()] });

    const found = await parkingRuleStep.read(harness.readContext);
    const want = parkingRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, parkingRuleStep.effects);
    expect(found!.health.healthy).toBe(false);
    expect(changes).toEqual([{ field: 'sourceIp', from: '0.0.0.0/0', to: '255.255.255.255/32', effect: 'update' }]);

    await parkingRuleStep.update!(harness.context, want, found!, changes);
    expect(elbv2.commandCalls(ModifyRuleCommand).map((call) => call.args[0].input)).toEqual([{ RuleArn: RULE.ruleArn, Conditions: CONDITIONS, Actions: ACTIONS }]);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
  });

  it('a replaced target group moves the rule in place (ModifyRule), nothing else', async () => {
    const newGroup = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/other-tg/0123456789abcdef';
    harness = stepHarness(parkingRuleStep, {
      record: { created: true, complete: true, data: RULE },
      outputs: { 'target-group': { ...SAMPLE_OUTPUTS['target-group'], name: 'other-tg', targetGroupArn: newGroup } },
    });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(ModifyRuleCommand).resolves({});

    const found = await parkingRuleStep.read(harness.readContext);
    const want = parkingRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, parkingRuleStep.effects);
    expect(changes).toEqual([{ field: 'targetGroupArn', from: TG_ARN, to: newGroup, effect: 'update' }]);

    await parkingRuleStep.update!(harness.context, want, found!, changes);
    expect(elbv2.commandCalls(ModifyRuleCommand).map((call) => call.args[0].input)).toEqual([
      { RuleArn: RULE.ruleArn, Conditions: CONDITIONS, Actions: [{ Type: 'forward', TargetGroupArn: newGroup, Order: 1 }] },
    ]);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
  });

  it('read adopts the rule a killed run left at priority 50000 (exactly ours), and refuses someone else\'s there', async () => {
    harness = stepHarness(parkingRuleStep, { record: { created: true, complete: false, data: { listenerArn: HTTP_LISTENER_ARN, priority: 50000 } } });
    elbv2.on(DescribeRulesCommand, { ListenerArn: HTTP_LISTENER_ARN }).resolves({ Rules: [defaultRule, liveRule()] });

    const found = await parkingRuleStep.read(harness.readContext);
    expect(found?.output).toEqual(RULE);
    expect(elbv2.commandCalls(DescribeTagsCommand)).toHaveLength(0);

    elbv2.reset();
    elbv2.on(DescribeRulesCommand, { ListenerArn: HTTP_LISTENER_ARN }).resolves({ Rules: [defaultRule, foreignRule] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: foreignRule.RuleArn, Tags: [{ Key: 'team', Value: 'other' }] }] });
    await expect(parkingRuleStep.read(harness.readContext)).rejects.toMatchObject({
      code: 'RULE_PRIORITY_IN_USE',
      exit: 'conflict',
      message: expect.stringContaining('Priority 50000 on the HTTP listener'),
    });
  });

  it('PriorityInUse from CreateRule (a rule appeared since read) is a conflict, not a crash', async () => {
    harness = stepHarness(parkingRuleStep);
    elbv2.on(CreateRuleCommand).rejects(error('PriorityInUseException', 'Priority 50000 is currently in use'));
    await expect(parkingRuleStep.create(harness.context, parkingRuleStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE', exit: 'conflict' });
  });

  it('delete: by the recorded ARN; gone (or its listener gone with --no-http-redirect) counts as deleted', async () => {
    harness = stepHarness(parkingRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DeleteRuleCommand).resolvesOnce({}).rejectsOnce(error('RuleNotFoundException')).rejectsOnce(error('ListenerNotFoundException'));
    await parkingRuleStep.delete(harness.context);
    await parkingRuleStep.delete(harness.context);
    await parkingRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input)).toEqual([{ RuleArn: RULE.ruleArn }, { RuleArn: RULE.ruleArn }, { RuleArn: RULE.ruleArn }]);
  });

  it('delete after a kill between intent and ARN: deletes our rule at 50000, never someone else\'s', async () => {
    harness = stepHarness(parkingRuleStep, { record: { created: true, complete: false, data: { listenerArn: HTTP_LISTENER_ARN, priority: 50000 } } });
    elbv2.on(DescribeRulesCommand, { ListenerArn: HTTP_LISTENER_ARN }).resolves({ Rules: [defaultRule, liveRule()] });
    elbv2.on(DeleteRuleCommand).resolves({});
    await parkingRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input)).toEqual([{ RuleArn: RULE.ruleArn }]);

    elbv2.reset();
    elbv2.on(DescribeRulesCommand, { ListenerArn: HTTP_LISTENER_ARN }).resolves({ Rules: [defaultRule, foreignRule] });
    elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [{ ResourceArn: foreignRule.RuleArn, Tags: [] }] });
    await parkingRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand)).toHaveLength(0);
  });
});
