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
import { hostRuleStep, listenerOfRule } from '../../../src/steps/host-rule.js';
import { diffFields, UNKNOWN } from '../../../src/steps/resource.js';
import { articleConfig, SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const LISTENER_ARN = SAMPLE_OUTPUTS['https-listener'].listenerArn;
const RULE = SAMPLE_OUTPUTS['host-rule'];
const POOL_ARN = SAMPLE_OUTPUTS['user-pool'].userPoolArn;
const CLIENT_ID = SAMPLE_OUTPUTS['app-client'].clientId;
const DOMAIN = SAMPLE_OUTPUTS['user-pool-domain'].domain;
const TG_ARN = SAMPLE_OUTPUTS['target-group'].targetGroupArn;

const error = (name: string, message = name) => Object.assign(new Error(message), { name });

const ARTICLE_CONDITIONS = [{ Field: 'host-header', HostHeaderConfig: { Values: ['www.example.com'] } }];
const ARTICLE_ACTIONS = [
  {
    Type: 'authenticate-cognito',
    AuthenticateCognitoConfig: {
      UserPoolArn: POOL_ARN,
      UserPoolClientId: CLIENT_ID,
      UserPoolDomain: DOMAIN,
      SessionCookieName: 'AWSELBAuthSessionCookie',
      Scope: 'openid',
      // --session-timeout's default, the ALB's own: 604800 s, 7 days (AuthenticateCognitoActionConfig).
      SessionTimeout: 604800,
      OnUnauthenticatedRequest: 'authenticate',
    },
    Order: 1,
  },
  { Type: 'forward', TargetGroupArn: TG_ARN, Order: 2 },
];

/** The rule as DescribeRules returns it: extra defaults filled in, forward with a ForwardConfig too. */
function liveRule(overrides: { priority?: string; arn?: string; cognito?: Record<string, string>; host?: string; targetGroupArn?: string } = {}): Rule {
  const host = overrides.host ?? 'www.example.com';
  const targetGroupArn = overrides.targetGroupArn ?? TG_ARN;
  return {
    RuleArn: overrides.arn ?? RULE.ruleArn,
    Priority: overrides.priority ?? '20',
    IsDefault: false,
    Conditions: [{ Field: 'host-header', Values: [host], HostHeaderConfig: { Values: [host] } }],
    Actions: [
      { Type: 'forward', TargetGroupArn: targetGroupArn, Order: 2, ForwardConfig: { TargetGroups: [{ TargetGroupArn: targetGroupArn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } } },
      {
        Type: 'authenticate-cognito',
        AuthenticateCognitoConfig: {
          UserPoolArn: POOL_ARN,
          UserPoolClientId: CLIENT_ID,
          UserPoolDomain: DOMAIN,
          SessionCookieName: 'AWSELBAuthSessionCookie',
          Scope: 'openid',
          SessionTimeout: 604800,
          OnUnauthenticatedRequest: 'authenticate',
          ...overrides.cognito,
        },
        Order: 1,
      },
    ],
  };
}

const defaultRule: Rule = { RuleArn: `${RULE.ruleArn}-default`, Priority: 'default', IsDefault: true, Conditions: [], Actions: [{ Type: 'redirect' }] };
const foreignRule: Rule = {
  RuleArn: `${RULE.ruleArn}-foreign`,
  Priority: '20',
  Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/admin/*'] } }],
  Actions: [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '403' } }],
};
const noTags = { TagDescriptions: [{ ResourceArn: RULE.ruleArn, Tags: [{ Key: 'team', Value: 'other' }] }] };
const ourTags = { TagDescriptions: [{ ResourceArn: RULE.ruleArn, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] };

describe('host-rule step', () => {
  let harness: StepHarness<'host-rule'>;
  beforeEach(() => {
    elbv2.reset();
  });
  afterEach(() => harness?.cleanup());

  it("creates the article's rule: priority 20, host header, authenticate-cognito then forward, tagged", async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule] });
    let recordAtCreate: unknown;
    elbv2.on(CreateRuleCommand).callsFake(() => {
      recordAtCreate = harness.state.get('host-rule');
      return { Rules: [liveRule()] };
    });

    expect(await hostRuleStep.read(harness.readContext)).toBeUndefined();
    const output = await hostRuleStep.create(harness.context, hostRuleStep.desired(harness.config, harness.inputs));

    expect(elbv2.commandCalls(CreateRuleCommand)[0]!.args[0].input).toEqual({
      ListenerArn: LISTENER_ARN,
      Priority: 20,
      Conditions: ARTICLE_CONDITIONS,
      Actions: ARTICLE_ACTIONS,
      Tags: [
        { Key: 'authecs:stack', Value: 'ecsauth' },
        { Key: 'managed-by', Value: 'authecs' },
      ],
    });
    expect(recordAtCreate).toMatchObject({ created: true, data: { listenerArn: LISTENER_ARN, priority: 20 } });
    expect(output).toEqual({ ruleArn: RULE.ruleArn, listenerArn: LISTENER_ARN, priority: 20 });
    expect(harness.state.get('host-rule')).toMatchObject({ created: true, data: output });
  });

  it('passes --rule-priority, --session-cookie and --scope (normalised) through', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 7, sessionCookieName: 'MyCookie', scope: 'openid  email' } });
    elbv2.on(CreateRuleCommand).resolves({ Rules: [liveRule({ priority: '7' })] });

    await hostRuleStep.create(harness.context, hostRuleStep.desired(harness.config, harness.inputs));

    const input = elbv2.commandCalls(CreateRuleCommand)[0]!.args[0].input;
    expect(input.Priority).toBe(7);
    expect(input.Actions?.[0]?.AuthenticateCognitoConfig).toMatchObject({ SessionCookieName: 'MyCookie', Scope: 'email openid' });
  });

  it('read adopts the identical rule a killed run left at our priority (found across pages), without writing', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: false, data: { listenerArn: LISTENER_ARN, priority: 20 } } });
    // The paginator reuses one input object, so each call's input is copied as it is made.
    const listed: object[] = [];
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).callsFake((input: { Marker?: string }) => {
      listed.push({ ...input });
      return input.Marker ? { Rules: [liveRule()] } : { Rules: [defaultRule], NextMarker: 'm2' };
    });
    const before = JSON.stringify(harness.state.get('host-rule'));

    const found = await hostRuleStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: { ruleArn: RULE.ruleArn, listenerArn: LISTENER_ARN, priority: 20 } });
    expect(listed).toEqual([{ ListenerArn: LISTENER_ARN }, { ListenerArn: LISTENER_ARN, Marker: 'm2' }]);
    expect(diffFields(hostRuleStep.desired(harness.config, harness.inputs), found!.observed, hostRuleStep.effects)).toEqual([]);
    expect(JSON.stringify(harness.state.get('host-rule'))).toBe(before);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
  });

  it('read adopts a rule at our priority that carries our tag even when it differs, so the diff repairs it', async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [liveRule({ cognito: { UserPoolClientId: 'oldclient' } })] });
    elbv2.on(DescribeTagsCommand).resolves(ourTags);

    const found = await hostRuleStep.read(harness.readContext);

    expect(found?.output.ruleArn).toBe(RULE.ruleArn);
    expect(diffFields(hostRuleStep.desired(harness.config, harness.inputs), found!.observed, hostRuleStep.effects)).toEqual([
      { field: 'userPoolClientId', from: 'oldclient', to: CLIENT_ID, effect: 'update' },
    ]);
  });

  it('reads the recorded rule by ARN and it matches what up wants', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });

    const found = await hostRuleStep.read(harness.readContext);

    expect(found).toMatchObject({ created: true, output: RULE });
    expect(elbv2.commandCalls(DescribeRulesCommand)).toHaveLength(1);
    expect(diffFields(hostRuleStep.desired(harness.config, harness.inputs), found!.observed, hostRuleStep.effects)).toEqual([]);
  });

  it("read refuses a priority held by someone else's rule, naming --rule-priority", async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, foreignRule] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);

    await expect(hostRuleStep.read(harness.readContext)).rejects.toMatchObject({
      code: 'RULE_PRIORITY_IN_USE',
      exit: 'conflict',
      hint: expect.stringContaining('--rule-priority'),
    });
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });

  it('read refuses a near-identical untagged rule too: only an exact match or our tag is adopted', async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [liveRule({ cognito: { UserPoolClientId: 'someoneelsesclient' } })] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);

    await expect(hostRuleStep.read(harness.readContext)).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE' });
  });

  it('maps PriorityInUse from CreateRule to the same conflict', async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(CreateRuleCommand).rejects(error('PriorityInUseException', 'The specified priority is in use.'));

    await expect(hostRuleStep.create(harness.context, hostRuleStep.desired(harness.config, harness.inputs))).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE', exit: 'conflict' });
  });

  it('desired: each field from a dependency about to be made is unknown', () => {
    harness = stepHarness(hostRuleStep);

    const want = hostRuleStep.desired(harness.config, { ...harness.inputs, 'app-client': UNKNOWN, 'target-group': UNKNOWN });
    expect(want).toEqual({
      listenerArn: LISTENER_ARN,
      priority: 20,
      host: 'www.example.com',
      userPoolArn: POOL_ARN,
      userPoolClientId: UNKNOWN,
      userPoolDomain: DOMAIN,
      sessionCookieName: 'AWSELBAuthSessionCookie',
      sessionTimeout: 604800,
      scope: 'openid',
      targetGroupArn: UNKNOWN,
    });
    expect(hostRuleStep.desired(harness.config, { ...harness.inputs, 'https-listener': UNKNOWN, 'user-pool': UNKNOWN, 'user-pool-domain': UNKNOWN })).toMatchObject({
      listenerArn: UNKNOWN,
      userPoolArn: UNKNOWN,
      userPoolDomain: UNKNOWN,
    });
  });

  it('diff: --rule-priority 30 moves the rule in place; a new scope or host is an update; a new listener a replacement', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    const found = await hostRuleStep.read(harness.readContext);
    const diff = (config: Parameters<typeof articleConfig>[0], inputs = harness.inputs) => diffFields(hostRuleStep.desired(articleConfig(config), inputs), found!.observed, hostRuleStep.effects);

    expect(diff({ rulePriority: 30 })).toEqual([{ field: 'priority', from: 20, to: 30, effect: 'update' }]);
    expect(diff({ scope: 'profile openid' })).toEqual([{ field: 'scope', from: 'openid', to: 'openid profile', effect: 'update' }]);
    expect(diff({ domain: 'App.Example.com' })).toEqual([{ field: 'host', from: 'www.example.com', to: 'app.example.com', effect: 'update' }]);
    expect(diff({}, { ...harness.inputs, 'https-listener': UNKNOWN })).toEqual([{ field: 'listenerArn', from: LISTENER_ARN, to: UNKNOWN, effect: 'replace' }]);
  });

  it('update moves the rule to --rule-priority 30 with SetRulePriorities only', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 30 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule, liveRule()] });
    elbv2.on(SetRulePrioritiesCommand).resolves({});

    const found = await hostRuleStep.read(harness.readContext);
    const want = hostRuleStep.desired(harness.config, harness.inputs);
    const output = await hostRuleStep.update!(harness.context, want, found!, diffFields(want, found!.observed, hostRuleStep.effects));

    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(1);
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)[0]!.args[0].input).toEqual({ RulePriorities: [{ RuleArn: RULE.ruleArn, Priority: 30 }] });
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(output).toEqual({ ...RULE, priority: 30 });
    expect(harness.state.get('host-rule')).toMatchObject({ data: { priority: 30 } });
  });

  it('update will not move our rule onto a priority someone else holds', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 30 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [liveRule(), { ...foreignRule, Priority: '30' }] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);

    const found = await hostRuleStep.read(harness.readContext);
    const want = hostRuleStep.desired(harness.config, harness.inputs);
    await expect(hostRuleStep.update!(harness.context, want, found!, diffFields(want, found!.observed, hostRuleStep.effects))).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE' });
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
  });

  it('update rewrites the conditions and actions with one ModifyRule when an input changed (new client ID, new target group, new scope)', async () => {
    harness = stepHarness(hostRuleStep, { config: { scope: 'openid email' }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule({ cognito: { UserPoolClientId: 'oldclient' }, targetGroupArn: `${TG_ARN}-old` })] });
    elbv2.on(ModifyRuleCommand).resolves({});

    const found = await hostRuleStep.read(harness.readContext);
    const want = hostRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, hostRuleStep.effects);
    const output = await hostRuleStep.update!(harness.context, want, found!, changes);

    expect(changes.map((change) => change.field)).toEqual(['userPoolClientId', 'scope', 'targetGroupArn']);
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(1);
    const actions = structuredClone(ARTICLE_ACTIONS);
    actions[0]!.AuthenticateCognitoConfig!.Scope = 'email openid';
    expect(elbv2.commandCalls(ModifyRuleCommand)[0]!.args[0].input).toEqual({ RuleArn: RULE.ruleArn, Conditions: ARTICLE_CONDITIONS, Actions: actions });
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(output).toEqual(RULE);
  });

  it('observes actions in the wrong order, or an extra condition, as changes that ModifyRule puts back', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    const rule = liveRule();
    rule.Actions = rule.Actions!.map((action) => ({ ...action, Order: action.Type === 'forward' ? 1 : 2 }));
    rule.Conditions = [...rule.Conditions!, { Field: 'path-pattern', Values: ['/admin/*'] }];
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule] });

    const found = await hostRuleStep.read(harness.readContext);
    const changes = diffFields(hostRuleStep.desired(harness.config, harness.inputs), found!.observed, hostRuleStep.effects);

    expect(changes.map((change) => [change.field, change.effect])).toEqual([
      ['host', 'update'],
      ['userPoolArn', 'update'],
      ['userPoolClientId', 'update'],
      ['userPoolDomain', 'update'],
      ['sessionCookieName', 'update'],
      ['sessionTimeout', 'update'],
      ['scope', 'update'],
      ['targetGroupArn', 'update'],
    ]);
    expect(changes[0]!.from).toBe('host-header www.example.com; path-pattern /admin/*');
  });

  it('--session-timeout 3600 is an update in place: one ModifyRule with SessionTimeout 3600 (1-604800 s, ALB guide "Authenticate users")', async () => {
    harness = stepHarness(hostRuleStep, { config: { sessionTimeoutSeconds: 3600 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(ModifyRuleCommand).resolves({});

    const found = await hostRuleStep.read(harness.readContext);
    const want = hostRuleStep.desired(harness.config, harness.inputs);
    const changes = diffFields(want, found!.observed, hostRuleStep.effects);
    await hostRuleStep.update!(harness.context, want, found!, changes);

    expect(changes).toEqual([{ field: 'sessionTimeout', from: 604800, to: 3600, effect: 'update' }]);
    const actions = structuredClone(ARTICLE_ACTIONS);
    actions[0]!.AuthenticateCognitoConfig!.SessionTimeout = 3600;
    expect(elbv2.commandCalls(ModifyRuleCommand).map((call) => call.args[0].input)).toEqual([{ RuleArn: RULE.ruleArn, Conditions: ARTICLE_CONDITIONS, Actions: actions }]);
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
  });

  it('a rule made without SessionTimeout has the ALB default, 7 days: no change at the default setting', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    const rule = liveRule();
    delete rule.Actions!.find((action) => action.Type === 'authenticate-cognito')!.AuthenticateCognitoConfig!.SessionTimeout;
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule] });

    const found = await hostRuleStep.read(harness.readContext);
    expect(diffFields(hostRuleStep.desired(harness.config, harness.inputs), found!.observed, hostRuleStep.effects)).toEqual([]);
  });

  it("update onto the priority our own public-path rule holds moves both in one SetRulePriorities (the public rule stays just before)", async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 19 }, record: { created: true, complete: true, data: RULE } });
    const publicRuleArn = `${RULE.ruleArn}-public`;
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [{ ...foreignRule, RuleArn: publicRuleArn, Priority: '19' }, liveRule()] });
    elbv2.on(DescribeTagsCommand, { ResourceArns: [publicRuleArn] }).resolves({ TagDescriptions: [{ ResourceArn: publicRuleArn, Tags: [{ Key: 'authecs:stack', Value: 'ecsauth' }] }] });
    elbv2.on(SetRulePrioritiesCommand).resolves({});

    const found = await hostRuleStep.read(harness.readContext);
    const want = hostRuleStep.desired(harness.config, harness.inputs);
    await hostRuleStep.update!(harness.context, want, found!, diffFields(want, found!.observed, hostRuleStep.effects));

    expect(elbv2.commandCalls(SetRulePrioritiesCommand).map((call) => call.args[0].input)).toEqual([
      {
        RulePriorities: [
          { RuleArn: RULE.ruleArn, Priority: 19 },
          { RuleArn: publicRuleArn, Priority: 18 },
        ],
      },
    ]);
  });

  it('read finds nothing when the recorded rule is gone and nothing holds our priority', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).rejects(error('RuleNotFoundException'));
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule] });

    expect(await hostRuleStep.read(harness.readContext)).toBeUndefined();
  });

  it('read finds nothing, and calls nothing, before the listener exists', async () => {
    harness = stepHarness(hostRuleStep);
    harness.state.remove('https-listener');

    expect(await hostRuleStep.read(harness.readContext)).toBeUndefined();
    expect(elbv2.calls()).toHaveLength(0);
  });

  it("derives a rule's listener from its ARN", () => {
    expect(listenerOfRule(RULE.ruleArn)).toBe(LISTENER_ARN);
    expect(listenerOfRule('not-an-arn')).toBeUndefined();
  });

  it('delete removes the recorded rule and tolerates one already gone', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DeleteRuleCommand).rejects(error('RuleNotFoundException'));

    await expect(hostRuleStep.delete(harness.context)).resolves.toBeUndefined();
    expect(elbv2.commandCalls(DeleteRuleCommand)[0]!.args[0].input).toEqual({ RuleArn: RULE.ruleArn });
  });

  it('delete after a crash before the ARN was recorded removes the rule at our priority only if it is ours', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: false, data: { listenerArn: LISTENER_ARN, priority: 20 } } });
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, liveRule()] });
    elbv2.on(DeleteRuleCommand).resolves({});

    await hostRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input.RuleArn)).toEqual([RULE.ruleArn]);

    elbv2.reset();
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, foreignRule] });
    elbv2.on(DescribeTagsCommand).resolves(noTags);
    await hostRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand)).toHaveLength(0);
  });

  it('read reports the priority and ARN as its health', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [liveRule()] });

    expect((await hostRuleStep.read(harness.readContext))?.health).toEqual({
      healthy: true,
      summary: 'priority 20: sign in, then forward',
      details: { priority: '20', ruleArn: RULE.ruleArn },
    });
  });
});
