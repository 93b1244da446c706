import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dir.js';
import { tlsFixture } from './test-config.js';

const run = promisify(execFile);

// Certificates with chosen dates, signed by the test CA for the fixture key, as `openssl ca` does.

let serial = 0x4000;

/** A chain file (leaf + test CA) for server.key.pem, valid from `start` to `end` (YYYYMMDDHHMMSSZ). */
export async function certificateFor(cn: string, start: string, end: string): Promise<string> {
  const dir = await tempDir({
    'index.txt': '',
    serial: `${(serial++).toString(16)}\n`,
    'ca.cnf': [
      '[ca]',
      'default_ca = test',
      '[test]',
      'database = index.txt',
      'new_certs_dir = .',
      'serial = serial',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'x509_extensions = leaf',
      '[any]',
      'commonName = supplied',
      '[leaf]',
      'subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1',
      'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  });
  await run('openssl', ['req', '-new', '-key', tlsFixture('server.key.pem'), '-subj', `/CN=${cn}`, '-out', 'leaf.csr'], { cwd: dir });
  await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', tlsFixture('ca.cert.pem'), '-keyfile', tlsFixture('ca.key.pem'), '-in', 'leaf.csr', '-startdate', start, '-enddate', end, '-out', 'leaf.pem'], { cwd: dir });
  const chain = path.join(dir, 'chain.pem');
  await writeFile(chain, Buffer.concat([await readFile(path.join(dir, 'leaf.pem')), await readFile(tlsFixture('ca.cert.pem'))]));
  return chain;
}

