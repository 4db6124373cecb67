/**
 * A loopback DNS server that answers what a recursive resolver would for a few names: a CNAME,
 * and A records (following the CNAME, as a resolver does). Unknown names are NXDOMAIN; a name
 * with no record of the asked type answers NOERROR and nothing (c-ares: ENODATA). Pointed at by
 * AUTHECS_DNS_SERVERS. Uses the message codec of src/doctor/dns.ts.
 */
import { createSocket } from 'node:dgram';
import { decodeMessage, encodeMessage, normalizeName, type DnsRecord } from '../../src/doctor/dns.js';

const TYPE_A = 1;
const TYPE_CNAME = 5;

export interface NameRecords {
  cname?: string;
  a?: string[];
}

export interface DnsStandIn {
  /** "127.0.0.1:port", for AUTHECS_DNS_SERVERS. */
  servers: string;
  /** Records by name; change them between tests. */
  records: Map<string, NameRecords>;
  close(): Promise<void>;
}

export async function startDnsStandIn(records: Record<string, NameRecords> = {}): Promise<DnsStandIn> {
  const table = new Map(Object.entries(records).map(([name, value]) => [normalizeName(name), value]));
  const socket = createSocket('udp4');
  socket.on('message', (data, peer) => {
    const query = decodeMessage(data);
    const question = query.question;
    const answers: DnsRecord[] = [];
    let rcode = 0;
    const name = normalizeName(question?.name ?? '');
    const entry = table.get(name);
    if (!entry) rcode = 3;
    else if (question?.type === TYPE_CNAME && entry.cname) answers.push({ name, type: TYPE_CNAME, data: entry.cname });
    else if (question?.type === TYPE_A) {
      let current = name;
      let records: NameRecords | undefined = entry;
      for (let hops = 0; records?.cname && hops < 8; hops += 1) {
        answers.push({ name: current, type: TYPE_CNAME, data: records.cname });
        current = normalizeName(records.cname);
        records = table.get(current);
      }
      for (const address of records?.a ?? []) answers.push({ name: current, type: TYPE_A, data: address });
    }
    socket.send(encodeMessage({ id: query.id, response: true, rcode, ...(question ? { question } : {}), answers }), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    servers: `127.0.0.1:${socket.address().port}`,
    records: table,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
