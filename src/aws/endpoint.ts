import { connect } from 'node:net';
import { AuthecsError } from '../errors.js';

/**
 * With --endpoint-url (moto, LocalStack), nothing listening there is almost always a typo or a
 * stopped emulator. The SDK would retry for ~20 s before saying so; one TCP connect answers at once.
 */
export async function ensureEndpointReachable(endpointUrl: string | undefined, timeoutMs = 3000): Promise<void> {
  if (!endpointUrl) return;
  const url = new URL(endpointUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const failure = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs / 1000}s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
  if (failure) {
    throw new AuthecsError(`cannot reach the AWS endpoint ${endpointUrl} (${failure})`, {
      code: 'ENDPOINT_UNREACHABLE',
      exit: 'endpoint',
      hint: 'Check --endpoint-url / AWS_ENDPOINT_URL and that the emulator is running (python3 -m moto.server -H 127.0.0.1 -p PORT).',
    });
  }
}
