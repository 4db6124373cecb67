import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeResource, isMutatingOperation } from '../../src/aws/mutations.js';
import { AuthecsError } from '../../src/errors.js';
import { formatDuration, Reporter, type Verbosity } from '../../src/report/reporter.js';

function capture(json: boolean, verbosity: Verbosity = 'normal') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const reporter = new Reporter({ json, verbosity, stdout, stderr });
  return { reporter, out: () => out.join(''), err: () => err.join('') };
}

describe('reporter', () => {
  it('prints one progress line per step with its outcome and elapsed time', () => {
    const { reporter, err } = capture(false);
    reporter.stepFinished('load-balancer', 'Application Load Balancer', 'created', 102_000, 'ecsauth-1.elb.amazonaws.com');
    expect(err()).toMatch(/^✔ Application Load Balancer\s+created\s+1m42s {2}ecsauth-1\.elb\.amazonaws\.com\n$/);
  });

  it('prints errors with their hint, and the result on stdout', () => {
    const { reporter, out, err } = capture(false);
    reporter.error(new AuthecsError('Hosted zone not found for www.example.com', { code: 'HOSTED_ZONE_NOT_FOUND', exit: 'notFound', hint: 'Create it.' }));
    reporter.result({ ok: false }, ['Site: https://www.example.com/']);
    expect(err()).toBe('error: Hosted zone not found for www.example.com\n  hint: Create it.\n');
    expect(out()).toBe('Site: https://www.example.com/\n');
  });

  it('--json keeps stdout for one document and sends events as JSON lines to stderr', () => {
    const { reporter, out, err } = capture(true);
    reporter.stepFinished('cluster', 'ECS cluster', 'unchanged', 10);
    reporter.emit({ type: 'mutation', service: 'ecs', operation: 'CreateCluster', resource: 'ecsauth', step: 'cluster' });
    reporter.result({ command: 'up', mutations: reporter.mutations }, ['ignored in json mode']);
    const lines = err().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.type)).toEqual(['step-end', 'mutation']);
    expect(lines[0]).toMatchObject({ step: 'cluster', outcome: 'unchanged', elapsedMs: 10, time: expect.any(String) });
    expect(JSON.parse(out())).toEqual({ command: 'up', mutations: [{ service: 'ecs', operation: 'CreateCluster', resource: 'ecsauth', step: 'cluster' }] });
  });

  it('--quiet shows only failures and errors', () => {
    const { reporter, err } = capture(false, 'quiet');
    reporter.stepFinished('cluster', 'ECS cluster', 'created', 10);
    reporter.info('hello');
    reporter.stepFinished('service', 'ECS service', 'failed', 10);
    expect(err()).toMatch(/^✖ ECS service\s+failed/);
    expect(err()).not.toContain('hello');
  });

  it('--verbose shows every AWS call', () => {
    const { reporter, err } = capture(false, 'verbose');
    reporter.emit({ type: 'aws-call', service: 'elbv2', operation: 'DescribeLoadBalancers', elapsedMs: 12 });
    expect(err()).toContain('elbv2.DescribeLoadBalancers');
  });

  it('a wait is a `wait` JSON line in --json (step, description, calls, elapsedMs, outcome); for people only with --verbose', () => {
    const wait = { description: 'certificate arn:1 for www.example.com to be ISSUED', calls: 45, elapsedMs: 300_000, outcome: 'done' as const };
    const json = capture(true);
    json.reporter.wait('certificate', wait);
    expect(JSON.parse(json.err())).toEqual({ time: expect.any(String), type: 'wait', step: 'certificate', ...wait });
    const quiet = capture(true, 'quiet');
    quiet.reporter.wait('certificate', wait);
    expect(quiet.err()).toBe('');
    const people = capture(false);
    people.reporter.wait('certificate', wait);
    expect(people.err()).toBe('');
    const verbose = capture(false, 'verbose');
    verbose.reporter.wait('certificate', { ...wait, outcome: 'timed-out' });
    expect(verbose.err()).toBe('    ⧗ certificate: certificate arn:1 for www.example.com to be ISSUED: 45 check(s) in 5m00s (timed-out)\n');
  });

  it('formats durations the way people read them', () => {
    expect([formatDuration(1234), formatDuration(42_000), formatDuration(125_000)]).toEqual(['1.2s', '42s', '2m05s']);
  });
});

describe('mutation log', () => {
  it('counts creates, deletes and changes as mutations, and reads as not', () => {
    for (const operation of ['CreateLoadBalancer', 'DeleteRule', 'ChangeResourceRecordSets', 'RunInstances', 'AuthorizeSecurityGroupIngress', 'RequestCertificate', 'RegisterTaskDefinition', 'UpdateService', 'ModifyListener', 'AttachRolePolicy', 'DetachRolePolicy', 'AdminDisableUser']) {
      expect(isMutatingOperation(operation), operation).toBe(true);
    }
    for (const operation of ['DescribeLoadBalancers', 'ListCertificates', 'GetChange', 'DescribeUserPool', 'ListResourceRecordSets']) {
      expect(isMutatingOperation(operation), operation).toBe(false);
    }
  });

  it('names the resource each call acted on', () => {
    expect(describeResource('CreateLoadBalancer', { Name: 'ecsauth' }, undefined)).toBe('ecsauth');
    expect(
      describeResource('ChangeResourceRecordSets', { ChangeBatch: { Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: 'www.example.com', Type: 'CNAME' } }] } }, undefined),
    ).toBe('CREATE CNAME www.example.com');
    expect(describeResource('RequestCertificate', { DomainName: 'www.example.com' }, { CertificateArn: 'arn:aws:acm:cert' })).toBe('arn:aws:acm:cert');
    expect(describeResource('RunInstances', {}, { Instances: [{ InstanceId: 'i-1' }, { InstanceId: 'i-2' }] })).toBe('i-1,i-2');
    expect(
      describeResource('AuthorizeSecurityGroupIngress', { GroupId: 'sg-1', IpPermissions: [{ FromPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }, undefined),
    ).toBe('sg-1 tcp/443 from 0.0.0.0/0');
  });
});

describe('AWS error classification', () => {
  it('tells an SDK waiter running out of time from an unreachable endpoint', async () => {
    const { classifyAwsError } = await import('../../src/aws/errors.js');
    const waiter = Object.assign(new Error('{"state":"TIMEOUT","reason":"Waiter has timed out"}'), { name: 'TimeoutError' });
    expect(classifyAwsError(waiter, { step: 'service' })).toMatchObject({ exit: 'timeout', code: 'WAIT_TIMEOUT', message: 'step service: timed out waiting for the resource to settle' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(classifyAwsError(refused, { step: 'cluster', endpointUrl: 'http://127.0.0.1:9' })).toMatchObject({ exit: 'endpoint', code: 'ENDPOINT_UNREACHABLE' });
    const denied = Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
    expect(classifyAwsError(denied, { step: 'user-pool' })).toMatchObject({ exit: 'accessDenied', message: expect.stringContaining('step user-pool') });
    const missing = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect(classifyAwsError(missing)).toMatchObject({ exit: 'credentials', code: 'NO_CREDENTIALS' });
  });
});

describe('live task list (listr2)', () => {
  it('lists every planned step, shows progress and outcomes, and prints held-back messages after it stops', async () => {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const reporter = new Reporter({ json: false, verbosity: 'normal', stdout: new PassThrough(), stderr, live: true });
    reporter.plan([
      { name: 'load-balancer', title: 'Application Load Balancer' },
      { name: 'certificate', title: 'ACM certificate' },
      { name: 'service', title: 'ECS service' },
    ]);
    reporter.warn('held back until the list stops');
    reporter.progress('load-balancer', 'waiting for the load balancer to become active');
    reporter.stepFinished('load-balancer', 'Application Load Balancer', 'created', 1500, 'ecsauth-1.elb.amazonaws.com');
    reporter.stepFinished('certificate', 'ACM certificate', 'failed', 200);
    await reporter.finish();

    expect(text).toContain('waiting for the load balancer to become active');
    expect(text).toContain('✔ Application Load Balancer  created 1.5s  ecsauth-1.elb.amazonaws.com');
    expect(text).toMatch(/✖ ACM certificate {2}failed 0\.2s/);
    expect(text).toMatch(/ECS service {2}not run/);
    expect(text.trimEnd().endsWith('warning: held back until the list stops')).toBe(true);
  });
});
