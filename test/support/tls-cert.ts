/**
 * A self-signed certificate for loopback TLS servers (nginx, node:tls), made with
 * the openssl CLI once per test process. It names localhost, 127.0.0.1 and ::1, so
 * only the lack of a trusted issuer makes verification fail.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TlsCert {
  keyPath: string;
  certPath: string;
  key: string;
  cert: string;
}

let made: Promise<TlsCert> | undefined;

export function selfSignedCert(): Promise<TlsCert> {
  made ??= makeCert();
  return made;
}

async function makeCert(): Promise<TlsCert> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-cert-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-nodes',
    '-days',
    '2',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ]);
  return { keyPath, certPath, key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
}
