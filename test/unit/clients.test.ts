/**
 * A create with no idempotency token goes out once: if AWS answers 500 (or the answer is lost),
 * the SDK must not send it again on its own, or a second resource appears. Reads and calls with a
 * token keep the SDK's retries. Checked against a loopback server that counts what it receives.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateUserPoolCommand, ListUserPoolsCommand } from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClients, destroyClients, SENT_ONCE, sharingReads, type AwsClients } from '../../src/aws/clients.js';
import { outcomeUnknown } from '../../src/aws/errors.js';

describe('AWS clients', () => {
  let server: Server;
  let clients: AwsClients;
  const received: string[] = [];
  let failures = 0;

  beforeEach(async () => {
    received.length = 0;
    server = createServer((request, response) => {
      const target = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      received.push(target);
      request.resume();
      request.on('end', () => {
        if (failures > 0) {
          failures -= 1;
          response.writeHead(500, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'InternalErrorException', message: 'boom' }));
          return;
        }
        const answer = target === 'ListUserPools' ? `{"UserPools":[{"Id":"eu-west-1_${received.length}"}]}` : '{"UserPool":{"Id":"eu-west-1_x"}}';
        setTimeout(() => response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(answer), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    clients = createClients({ region: 'eu-west-1', endpointUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  afterEach(async () => {
    destroyClients(clients);
    await new Promise((resolve) => server.close(resolve));
  });

  it('CreateUserPool (no idempotency token) is sent once on a 500, and the error says its outcome is unknown', async () => {
    failures = 1;
    const error = await clients.cognito.send(new CreateUserPoolCommand({ PoolName: 'p' })).catch((caught: unknown) => caught);
    expect(received).toEqual(['CreateUserPool']);
    expect(outcomeUnknown(error)).toBe(true);
  });

  it('a read keeps the SDK retry: ListUserPools is sent again after a 500', async () => {
    failures = 1;
    await clients.cognito.send(new ListUserPoolsCommand({ MaxResults: 10 }));
    expect(received).toEqual(['ListUserPools', 'ListUserPools']);
  });

  it('after a graceful stop (the first Ctrl-C) no call goes out: send fails with INTERRUPTED and the server sees nothing', async () => {
    let stopped = false;
    const stopping = createClients({ region: 'eu-west-1', endpointUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stopped: () => stopped });
    try {
      await stopping.cognito.send(new ListUserPoolsCommand({ MaxResults: 10 }));
      stopped = true;
      const error = await stopping.cognito.send(new CreateUserPoolCommand({ PoolName: 'p' })).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
      expect(received).toEqual(['ListUserPools']);
    } finally {
      destroyClients(stopping);
    }
  });

  it('while a plan reads, identical reads go out once and each caller gets its own copy; other reads, changes and reads after it go out as usual', async () => {
    const pools = () => clients.cognito.send(new ListUserPoolsCommand({ MaxResults: 10 }));
    const [first, second, other] = await sharingReads(clients, async () => {
      const answers = await Promise.all([pools(), pools(), clients.cognito.send(new ListUserPoolsCommand({ MaxResults: 20 }))]);
      // A later identical read in the same plan gets the same answer, not a second call.
      expect((await pools()).UserPools).toEqual(answers[0].UserPools);
      await clients.cognito.send(new CreateUserPoolCommand({ PoolName: 'p' })).catch(() => undefined);
      return answers;
    });
    expect(received).toEqual(['ListUserPools', 'ListUserPools', 'CreateUserPool']);
    expect(second.UserPools).toEqual(first.UserPools);
    expect(second.UserPools).not.toBe(first.UserPools);
    expect(other.UserPools).not.toEqual(first.UserPools);
    // Once the plan is over, a read is sent again and sees what AWS says now.
    const after = await pools();
    expect(received).toEqual(['ListUserPools', 'ListUserPools', 'CreateUserPool', 'ListUserPools']);
    expect(after.UserPools).toEqual([{ Id: 'eu-west-1_4' }]);
  });

  it('every create without an idempotency token in aws-behaviour.md is in the sent-once set', () => {
    for (const operation of ['CreateUserPool', 'CreateUserPoolClient', 'CreateUserPoolDomain', 'CreateKeyPair', 'CreateRule', 'RegisterTaskDefinition']) {
      expect(SENT_ONCE.has(operation), operation).toBe(true);
    }
  });
});
