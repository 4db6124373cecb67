/**
 * A throwaway certificate authority made with `openssl` at test time, and server certificates
 * it signs: for the site's name, for another name, or with a short life (the smoke test's
 * 14-day rule). Everything lives in one temporary directory that `remove()` deletes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerCertificate {
  key: string;
  cert: string;
}

export interface TestCa {
  dir: string;
  /** The CA certificate's file (what `smoke --ca-file` reads). */
  caFile: string;
  caPem: string;
  /** A certificate for `name` signed by this CA, valid for `days` days from now (default 90). */
  issue(name: string, options?: { days?: number }): ServerCertificate;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'authecs-test-ca-'));
  openssl(
    ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=authecs test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  let serial = 0;
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    issue(name, { days = 90 } = {}) {
      serial += 1;
      const base = `leaf-${serial}`;
      writeFileSync(join(dir, `${base}.ext`), `subjectAltName=DNS:${name}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', '-new', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + serial), '-days', String(days), '-extfile', `${base}.ext`, '-out', `${base}.pem`], dir);
      return { key: readFileSync(join(dir, `${base}.key`), 'utf8'), cert: readFileSync(join(dir, `${base}.pem`), 'utf8') };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
