import { describe, expect, it } from 'vitest';
import { missingActions, normalizePolicyDocument, parsePolicyDocument, wildcardMatches, type PolicyDocument } from '../../../src/steps/shared/iam-policy-check.js';

const WRITE = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const STREAM = 'arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth:log-stream:authecs/web/0123456789abcdef';
const policy = (...Statement: PolicyDocument['Statement']): PolicyDocument => ({ Version: '2012-10-17', Statement });

describe('parsePolicyDocument', () => {
  it('decodes the URL-encoded JSON IAM returns (GetRolePolicy, GetPolicyVersion)', () => {
    const encoded = encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'logs:*', Resource: '*' } }));
    expect(parsePolicyDocument(encoded)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }] });
  });

  it('takes plain JSON as it is, even with a literal % in it', () => {
    const plain = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/100%' }] });
    expect(parsePolicyDocument(plain)?.Statement[0]!.Resource).toBe('arn:aws:s3:::bucket/100%');
  });

  it('gives undefined for text that is not a policy', () => {
    expect(parsePolicyDocument('%7Bnot json')).toBeUndefined();
    expect(parsePolicyDocument(encodeURIComponent('{"a":1}'))).toBeUndefined();
    expect(parsePolicyDocument(undefined)).toBeUndefined();
  });
});

describe('normalizePolicyDocument', () => {
  it('makes a single value and a one-item list, in any order, compare equal', () => {
    const sent = normalizePolicyDocument(policy({ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }));
    const returned = normalizePolicyDocument(policy({ Action: ['sts:AssumeRole'], Principal: { Service: ['ecs-tasks.amazonaws.com'] }, Effect: 'Allow' }));
    expect(returned).toEqual(sent);
    expect(normalizePolicyDocument(policy({ Effect: 'Allow', Action: ['b:Y', 'a:X', 'a:X'], Resource: '*' })).Statement[0]!.Action).toEqual(['a:X', 'b:Y']);
  });
});

describe('wildcardMatches', () => {
  it('treats * and ? as IAM does, and nothing else as special', () => {
    expect(wildcardMatches('logs:Put*', 'logs:PutLogEvents')).toBe(true);
    expect(wildcardMatches('logs:?utLogEvents', 'logs:PutLogEvents')).toBe(true);
    expect(wildcardMatches('arn:aws:logs:*:*:log-group:/authecs/ecsauth:*', STREAM)).toBe(true);
    expect(wildcardMatches('arn:aws:logs:*:*:log-group:/authecs/ecsauth', STREAM)).toBe(false);
    expect(wildcardMatches('arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth.', STREAM)).toBe(false);
    expect(wildcardMatches('LOGS:putlogevents', 'logs:PutLogEvents', true)).toBe(true);
  });
});

describe('missingActions (may the container instance role write the logs?)', () => {
  it('AmazonEC2ContainerServiceforEC2Role\'s statement (both actions on "*") grants both', () => {
    const managed = policy({ Effect: 'Allow', Action: ['ecs:Poll', 'ecr:BatchGetImage', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' });
    expect(missingActions([managed], WRITE, STREAM)).toEqual([]);
  });

  it('accepts wildcards in the action (logs:*, logs:Put*, *) and actions split over policies', () => {
    expect(missingActions([policy({ Effect: 'Allow', Action: 'logs:*', Resource: '*' })], WRITE, STREAM)).toEqual([]);
    expect(missingActions([policy({ Effect: 'Allow', Action: '*', Resource: '*' })], WRITE, STREAM)).toEqual([]);
    const split = [policy({ Effect: 'Allow', Action: 'logs:Create*', Resource: '*' }), policy({ Effect: 'Allow', Action: 'logs:Put*', Resource: 'arn:aws:logs:*:*:log-group:/authecs/*' })];
    expect(missingActions(split, WRITE, STREAM)).toEqual([]);
  });

  it('names what is missing', () => {
    expect(missingActions([policy({ Effect: 'Allow', Action: 'logs:CreateLogStream', Resource: '*' })], WRITE, STREAM)).toEqual(['logs:PutLogEvents']);
    expect(missingActions([], WRITE, STREAM)).toEqual(WRITE);
  });

  it('a grant on another group, or on the bare group ARN without :*, does not count', () => {
    expect(missingActions([policy({ Effect: 'Allow', Action: 'logs:*', Resource: 'arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/other:*' })], WRITE, STREAM)).toEqual(WRITE);
    expect(missingActions([policy({ Effect: 'Allow', Action: 'logs:*', Resource: 'arn:aws:logs:eu-west-1:123456789012:log-group:/authecs/ecsauth' })], WRITE, STREAM)).toEqual(WRITE);
  });

  it('an explicit Deny wins; NotAction and NotResource are read the IAM way', () => {
    const allow = policy({ Effect: 'Allow', Action: 'logs:*', Resource: '*' });
    expect(missingActions([allow, policy({ Effect: 'Deny', Action: 'logs:PutLogEvents', Resource: '*' })], WRITE, STREAM)).toEqual(['logs:PutLogEvents']);
    expect(missingActions([policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })], WRITE, STREAM)).toEqual([]);
    expect(missingActions([policy({ Effect: 'Allow', NotAction: 'logs:*', Resource: '*' })], WRITE, STREAM)).toEqual(WRITE);
    expect(missingActions([policy({ Effect: 'Allow', Action: 'logs:*', NotResource: 'arn:aws:logs:*:*:log-group:/authecs/*' })], WRITE, STREAM)).toEqual(WRITE);
  });

  it('a grant that holds only under a condition is not counted (the caller warns, never fails)', () => {
    const conditional = policy({ Effect: 'Allow', Action: 'logs:*', Resource: '*', Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } } });
    expect(missingActions([conditional], WRITE, STREAM)).toEqual(WRITE);
  });
});
