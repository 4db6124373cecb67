/**
 * The three S3 calls a state in S3 needs, as plain data: they cross from the main thread to
 * the worker that makes them (s3-worker.ts) and back, so requests and answers must survive
 * structured cloning. Errors come back as answers, never thrown.
 */

/** Where and as whom the worker reaches S3: the same settings as every other client. */
export interface S3Connection {
  region: string;
  endpointUrl?: string;
  profile?: string;
}

export type S3Request =
  | { op: 'get'; bucket: string; key: string }
  | { op: 'put'; bucket: string; key: string; body: string; ifMatch?: string; ifNoneMatch?: '*' }
  | { op: 'delete'; bucket: string; key: string; ifMatch?: string };

export type S3Answer =
  | { ok: true; etag?: string; body?: string }
  | { ok: false; code: string; status?: number; message: string };

/** The object is not there (a missing bucket is a 404 too, but an error). */
export function isMissing(answer: S3Answer): boolean {
  return !answer.ok && (answer.code === 'NoSuchKey' || (answer.status === 404 && answer.code !== 'NoSuchBucket'));
}

/** 412: If-Match or If-None-Match did not hold, so nothing was written or deleted. */
export function isPreconditionFailed(answer: S3Answer): boolean {
  return !answer.ok && (answer.code === 'PreconditionFailed' || answer.status === 412);
}
