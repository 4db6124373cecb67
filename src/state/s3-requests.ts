import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { awsErrorCode } from '../aws/errors.js';
import type { S3Answer, S3Connection, S3Request } from './s3-protocol.js';

// The SDK half of the S3 state: loaded only in the worker thread (s3-worker.ts), never by a command's main thread.

export function createS3Client(connection: S3Connection): S3Client {
  return new S3Client({
    region: connection.region,
    ...(connection.profile ? { profile: connection.profile } : {}),
    // Emulators (moto, LocalStack) answer on one host: bucket names go in the path.
    ...(connection.endpointUrl ? { endpoint: connection.endpointUrl, forcePathStyle: true } : {}),
    // The bucket may live in another region than the stack.
    followRegionRedirects: true,
    // A hung request would hold the run (the main thread waits on it): give up and say so.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
    maxAttempts: 5,
  });
}

// "Conflicting operation" during a conditional write: S3 asks to retry (PutObject, IfMatch/IfNoneMatch).
const CONFLICT_RETRIES = 3;

export async function performS3Request(client: S3Client, request: S3Request): Promise<S3Answer> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send(client, request);
    } catch (error) {
      const answer = failure(error);
      if (answer.code !== 'ConditionalRequestConflict' || attempt >= CONFLICT_RETRIES) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

async function send(client: S3Client, request: S3Request): Promise<S3Answer> {
  const { bucket: Bucket, key: Key } = request;
  switch (request.op) {
    case 'get': {
      const response = await client.send(new GetObjectCommand({ Bucket, Key }));
      const body = (await response.Body?.transformToString('utf8')) ?? '';
      return { ok: true, body, ...(response.ETag ? { etag: response.ETag } : {}) };
    }
    case 'put': {
      const response = await client.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: request.body,
          ContentType: 'application/json',
          ...(request.ifMatch ? { IfMatch: request.ifMatch } : {}),
          ...(request.ifNoneMatch ? { IfNoneMatch: request.ifNoneMatch } : {}),
        }),
      );
      return { ok: true, ...(response.ETag ? { etag: response.ETag } : {}) };
    }
    case 'delete':
      await client.send(new DeleteObjectCommand({ Bucket, Key, ...(request.ifMatch ? { IfMatch: request.ifMatch } : {}) }));
      return { ok: true };
  }
}

function failure(error: unknown): Extract<S3Answer, { ok: false }> {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { ok: false, code: awsErrorCode(error), ...(status === undefined ? {} : { status }), message: error instanceof Error ? error.message : String(error) };
}
