import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  SetRulePrioritiesCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostRuleStep } from '../../../src/steps/host-rule.js';
import { SAMPLE_OUTPUTS, stepHarness, type StepHarness } from '../../support/step-harness.js';

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

    const output = await hostRuleStep.create(harness.context);

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

  it('passes --rule-priority, --session-cookie and --scope through', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 7, sessionCookieName: 'MyCookie', scope: 'openid email' } });
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule] });
    elbv2.on(CreateRuleCommand).resolves({ Rules: [liveRule({ priority: '7' })] });

    await hostRuleStep.create(harness.context);

    const input = elbv2.commandCalls(CreateRuleCommand)[0]!.args[0].input;
    expect(input.Priority).toBe(7);
    expect(input.Actions?.[0]?.AuthenticateCognitoConfig).toMatchObject({ SessionCookieName: 'MyCookie', Scope: 'openid email' });
  });

  it('adopts the identical rule a killed run left at our priority (found across pages)', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: false, data: { listenerArn: LISTENER_ARN, priority: 20 } } });
    elbv2
      .on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN })
      .resolvesOnce({ Rules: [defaultRule], NextMarker: 'm2' })
      .resolves({ Rules: [liveRule()] });

    const found = await hostRuleStep.find(harness.context);

    expect(found).toEqual({ created: true, output: { ruleArn: RULE.ruleArn, listenerArn: LISTENER_ARN, priority: 20 } });
    expect(elbv2.commandCalls(DescribeRulesCommand)[1]!.args[0].input).toMatchObject({ ListenerArn: LISTENER_ARN, Marker: 'm2' });

    const output = await hostRuleStep.create(harness.context);
    expect(output.ruleArn).toBe(RULE.ruleArn);
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(harness.state.get('host-rule')).toMatchObject({ data: { ruleArn: RULE.ruleArn } });
  });

  it('finds the recorded rule by ARN and needs nothing more when it matches', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });

    expect(await hostRuleStep.find(harness.context)).toEqual({ created: true, output: RULE });
    expect(elbv2.commandCalls(DescribeRulesCommand)).toHaveLength(1);
  });

  it("refuses a priority held by someone else's rule, naming --rule-priority", async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule, foreignRule] });

    expect(await hostRuleStep.find(harness.context)).toBeUndefined();
    await expect(hostRuleStep.create(harness.context)).rejects.toMatchObject({
      code: 'RULE_PRIORITY_IN_USE',
      exit: 'conflict',
      hint: expect.stringContaining('--rule-priority'),
    });
    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });

  it('refuses a near-identical unrecorded rule too: only an exact match is adopted', async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [liveRule({ cognito: { UserPoolClientId: 'someoneelsesclient' } })] });

    await expect(hostRuleStep.create(harness.context)).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE' });
  });

  it('maps PriorityInUse from CreateRule to the same conflict', async () => {
    harness = stepHarness(hostRuleStep);
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [defaultRule] });
    elbv2.on(CreateRuleCommand).rejects(error('PriorityInUseException', 'The specified priority is in use.'));

    await expect(hostRuleStep.create(harness.context)).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE', exit: 'conflict' });
  });

  it('repairs our recorded rule with ModifyRule when an input changed (new client ID, new target group)', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule({ cognito: { UserPoolClientId: 'oldclient' }, targetGroupArn: `${TG_ARN}-old` })] });
    elbv2.on(ModifyRuleCommand).resolves({});

    expect(await hostRuleStep.find(harness.context)).toBeUndefined();
    const output = await hostRuleStep.create(harness.context);

    expect(elbv2.commandCalls(CreateRuleCommand)).toHaveLength(0);
    expect(elbv2.commandCalls(ModifyRuleCommand)[0]!.args[0].input).toEqual({ RuleArn: RULE.ruleArn, Conditions: ARTICLE_CONDITIONS, Actions: ARTICLE_ACTIONS });
    expect(output).toEqual(RULE);
  });

  it('moves our rule when --rule-priority changed', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 30 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule, liveRule()] });
    elbv2.on(SetRulePrioritiesCommand).resolves({});

    const output = await hostRuleStep.create(harness.context);

    expect(elbv2.commandCalls(SetRulePrioritiesCommand)[0]!.args[0].input).toEqual({ RulePriorities: [{ RuleArn: RULE.ruleArn, Priority: 30 }] });
    expect(elbv2.commandCalls(ModifyRuleCommand)).toHaveLength(0);
    expect(output.priority).toBe(30);
  });

  it('will not move our rule onto a priority someone else holds', async () => {
    harness = stepHarness(hostRuleStep, { config: { rulePriority: 30 }, record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).resolves({ Rules: [liveRule()] });
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [liveRule(), { ...foreignRule, Priority: '30' }] });

    await expect(hostRuleStep.create(harness.context)).rejects.toMatchObject({ code: 'RULE_PRIORITY_IN_USE' });
    expect(elbv2.commandCalls(SetRulePrioritiesCommand)).toHaveLength(0);
  });

  it('creates a new rule when the recorded one is gone', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand, { RuleArns: [RULE.ruleArn] }).rejects(error('RuleNotFoundException'));
    elbv2.on(DescribeRulesCommand, { ListenerArn: LISTENER_ARN }).resolves({ Rules: [defaultRule] });
    elbv2.on(CreateRuleCommand).resolves({ Rules: [liveRule({ arn: `${RULE.ruleArn}-new` })] });

    const output = await hostRuleStep.create(harness.context);

    expect(output.ruleArn).toBe(`${RULE.ruleArn}-new`);
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
    await hostRuleStep.delete(harness.context);
    expect(elbv2.commandCalls(DeleteRuleCommand)).toHaveLength(0);
  });

  it('inspect reports a missing rule', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand).rejects(error('RuleNotFoundException'));

    expect(await hostRuleStep.inspect(harness.context)).toMatchObject({ present: false, healthy: false });
  });

  it('inspect of the matching rule shows no drift', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [liveRule()] });

    expect(await hostRuleStep.inspect(harness.context)).toMatchObject({ present: true, healthy: true, drift: [], details: { priority: '20' } });
  });

  it('inspect lists each mismatch: host, pool ARN, client ID, domain, scope and forward target', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    elbv2.on(DescribeRulesCommand).resolves({
      Rules: [
        liveRule({
          host: 'other.example.com',
          cognito: { UserPoolArn: `${POOL_ARN}x`, UserPoolClientId: 'otherclient', UserPoolDomain: 'other-domain', Scope: 'openid email' },
          targetGroupArn: `${TG_ARN}-other`,
        }),
      ],
    });

    const { drift } = await hostRuleStep.inspect(harness.context);

    expect(drift).toEqual([
      'host is other.example.com, not www.example.com',
      `user pool ARN is ${POOL_ARN}x, not ${POOL_ARN}`,
      `client ID is otherclient, not ${CLIENT_ID}`,
      `Cognito domain is other-domain, not ${DOMAIN}`,
      'scope is openid email, not openid',
      `forward target is ${TG_ARN}-other, not ${TG_ARN}`,
    ]);
  });

  it('inspect flags actions in the wrong order', async () => {
    harness = stepHarness(hostRuleStep, { record: { created: true, complete: true, data: RULE } });
    const rule = liveRule();
    rule.Actions = rule.Actions!.map((action) => ({ ...action, Order: action.Type === 'forward' ? 1 : 2 }));
    elbv2.on(DescribeRulesCommand).resolves({ Rules: [rule] });

    const { drift } = await hostRuleStep.inspect(harness.context);

    expect(drift).toContain('actions are forward then authenticate-cognito, not authenticate-cognito then forward');
  });
});
