import type { S3Client } from '@aws-sdk/client-s3';
import { runAsWorker } from 'synckit';
import type { S3Answer, S3Connection, S3Request } from './s3-protocol.js';
import { createS3Client, performS3Request } from './s3-requests.js';

// The worker thread behind the synchronous S3 state (s3-store.ts): the main thread waits on
// each call with Atomics.wait, so save() returns only once S3 has the write.

const clients = new Map<string, S3Client>();

runAsWorker(async (connection: S3Connection, request: S3Request): Promise<S3Answer> => {
  const key = JSON.stringify(connection);
  let client = clients.get(key);
  if (!client) {
    client = createS3Client(connection);
    clients.set(key, client);
  }
  return performS3Request(client, request);
});
