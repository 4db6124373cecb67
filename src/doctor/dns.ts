/**
 * Whether a zone is delegated: what the parent zone's own name servers answer for it.
 *
 * node:dns finds the parent's name servers and their addresses. It cannot read the answer
 * itself: a parent server answers with a referral (the NS records in the authority section)
 * and c-ares reads only the answer section, so that one query is made here over UDP.
 */
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';

export interface DnsOptions {
  /** Resolvers for the parent's name servers (default: the system's). "ip" or "ip:port". */
  servers?: string[];
  /** Port of the parent's name servers (default 53; tests use a loopback server). */
  port?: number;
  timeoutMs?: number;
}

export type Delegation =
  | { status: 'delegated'; parent: string; parentServer: string; nameServers: string[] }
  | { status: 'not-delegated'; parent: string; parentServer: string; reason: string }
  | { status: 'unreachable'; parent: string; reason: string };

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function parentOf(zone: string): string {
  const labels = normalizeName(zone).split('.');
  return labels.length > 1 ? labels.slice(1).join('.') : '';
}

// ---- a minimal DNS message codec (RFC 1035), for one NS query and its referral ----

const TYPE_NS = 2;
const TYPE_A = 1;
const CLASS_IN = 1;

export function encodeName(name: string): Buffer {
  const labels = normalizeName(name).split('.').filter(Boolean);
  return Buffer.concat([...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])), Buffer.from([0])]);
}

export interface DnsRecord {
  name: string;
  type: number;
  /** NS target or A address. */
  data: string;
}

export interface DnsMessage {
  id: number;
  rcode: number;
  question: { name: string; type: number } | undefined;
  answers: DnsRecord[];
  authority: DnsRecord[];
}

function encodeRecord(record: DnsRecord): Buffer {
  const data = record.type === TYPE_A ? Buffer.from(record.data.split('.').map(Number)) : encodeName(record.data);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(record.type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(300, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(record.name), fixed, data]);
}

/** Encodes a query (no answers) or a response. */
export function encodeMessage(message: Partial<DnsMessage> & { id: number; response?: boolean }): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(message.id, 0);
  header.writeUInt16BE((message.response ? 0x8000 : 0) | ((message.rcode ?? 0) & 0xf), 2);
  header.writeUInt16BE(message.question ? 1 : 0, 4);
  header.writeUInt16BE(message.answers?.length ?? 0, 6);
  header.writeUInt16BE(message.authority?.length ?? 0, 8);
  const question = message.question ? Buffer.concat([encodeName(message.question.name), Buffer.from([0, message.question.type, 0, CLASS_IN])]) : Buffer.alloc(0);
  return Buffer.concat([header, question, ...(message.answers ?? []).map(encodeRecord), ...(message.authority ?? []).map(encodeRecord)]);
}

function readName(buffer: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let offset = start;
  let next = -1;
  for (let jumps = 0; jumps < 64; jumps += 1) {
    const length = buffer.readUInt8(offset);
    if (length === 0) {
      return { name: labels.join('.'), next: next === -1 ? offset + 1 : next };
    }
    if ((length & 0xc0) === 0xc0) {
      // A compression pointer: the rest of the name is elsewhere in the message.
      if (next === -1) next = offset + 2;
      offset = buffer.readUInt16BE(offset) & 0x3fff;
      continue;
    }
    labels.push(buffer.toString('ascii', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  throw new Error('malformed DNS name');
}

export function decodeMessage(buffer: Buffer): DnsMessage {
  const id = buffer.readUInt16BE(0);
  const flags = buffer.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => buffer.readUInt16BE(at));
  let offset = 12;
  let question: DnsMessage['question'];
  for (let index = 0; index < counts[0]!; index += 1) {
    const { name, next } = readName(buffer, offset);
    question = { name, type: buffer.readUInt16BE(next) };
    offset = next + 4;
  }
  const sections: DnsRecord[][] = [[], []];
  for (const [section, count] of [counts[1]!, counts[2]!].entries()) {
    for (let index = 0; index < count; index += 1) {
      const { name, next } = readName(buffer, offset);
      const type = buffer.readUInt16BE(next);
      const length = buffer.readUInt16BE(next + 8);
      const dataAt = next + 10;
      let data = '';
      if (type === TYPE_NS) data = readName(buffer, dataAt).name;
      else if (type === TYPE_A && length === 4) data = [...buffer.subarray(dataAt, dataAt + 4)].join('.');
      sections[section]!.push({ name, type, data });
      offset = dataAt + length;
    }
  }
  return { id, rcode: flags & 0xf, question, answers: sections[0]!, authority: sections[1]! };
}

/** One NS query to one server, without recursion; resolves to its answer and authority records. */
export function queryNs(zone: string, host: string, port: number, timeoutMs: number): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const id = Math.floor(Math.random() * 0xffff);
    const timer = setTimeout(() => finish(new Error(`no answer from ${host} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error: Error | undefined, message?: DnsMessage) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(message!);
    };
    socket.on('error', (error) => finish(error));
    socket.on('message', (data) => {
      try {
        const message = decodeMessage(data);
        if (message.id === id) finish(undefined, message);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.send(encodeMessage({ id, question: { name: zone, type: TYPE_NS } }), port, host);
  });
}

/** Test-only: where lookups go (AUTHECS_DNS_SERVERS=ip:port,...; AUTHECS_DNS_PORT for a parent's name servers). */
export function dnsOptionsFromEnv(env: NodeJS.ProcessEnv, timeoutMs = 3000): DnsOptions {
  const servers = env.AUTHECS_DNS_SERVERS?.split(',').map((server) => server.trim()).filter(Boolean);
  const port = env.AUTHECS_DNS_PORT ? Number(env.AUTHECS_DNS_PORT) : undefined;
  return { ...(servers?.length ? { servers } : {}), ...(port ? { port } : {}), timeoutMs };
}

/** A resolver that asks the configured servers (default: the system's), one try per query. */
export function resolverFor(options: DnsOptions): Resolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 1 });
  if (options.servers?.length) resolver.setServers(options.servers);
  return resolver;
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** The NS names the parent's servers give for `zone`, or why that could not be learned. */
export async function checkDelegation(zone: string, options: DnsOptions = {}): Promise<Delegation> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const port = options.port ?? 53;
  const child = normalizeName(zone);
  const parent = parentOf(child);
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (options.servers?.length) resolver.setServers(options.servers);
  let parentServers: string[];
  try {
    parentServers = await resolver.resolveNs(parent || '.');
  } catch (error) {
    return { status: 'unreachable', parent, reason: `cannot look up the name servers of ${parent || 'the root'} (${codeOf(error)})` };
  }
  const failures: string[] = [];
  for (const server of parentServers.slice(0, 3)) {
    let addresses: string[];
    try {
      addresses = await resolver.resolve4(server);
    } catch (error) {
      failures.push(`${server}: ${codeOf(error)}`);
      continue;
    }
    for (const address of addresses.slice(0, 2)) {
      try {
        const message = await queryNs(child, address, port, timeoutMs);
        if (message.rcode === 3) return { status: 'not-delegated', parent, parentServer: server, reason: `${server} answers that ${child} does not exist (NXDOMAIN)` };
        const names = [...message.answers, ...message.authority].filter((record) => record.type === TYPE_NS && normalizeName(record.name) === child).map((record) => normalizeName(record.data));
        if (names.length === 0) return { status: 'not-delegated', parent, parentServer: server, reason: `${server} gives no NS records for ${child}` };
        return { status: 'delegated', parent, parentServer: server, nameServers: [...new Set(names)].sort() };
      } catch (error) {
        failures.push(`${server} (${address}): ${codeOf(error)}`);
      }
    }
  }
  return { status: 'unreachable', parent, reason: `no name server of ${parent} answered (${failures.join('; ') || 'none found'})` };
}
