import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { failedStart } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, tlsFixture } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

async function startWith(tls: object): Promise<{ code: number; stderr: string }> {
  const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': tls });
  return failedStart(dir);
}

/** Exit code 2, the file named, the advice given, and no stack trace. */
function assertClearFailure(run: { code: number; stderr: string }, ...patterns: RegExp[]): void {
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^keepd: the configuration in .* has 1 problem\(s\):\n {2}- tls\.json: TLSFile: TLS of the data, health, management and metrics listeners: /);
  for (const pattern of patterns) assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
}

describe('TLS failures stop keepd with one clear message naming the file', () => {
  it('missing file', async () => {
    const missing = tlsFixture('nope.pfx');
    assertClearFailure(await startWith({ TLSType: 'pfx', TLSFile: missing, TLSPassword: 'x' }), new RegExp(`cannot read TLSFile ${missing}: it does not exist; check the path`));
  });

  it('a directory instead of a file', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'cert.pfx'));
    assertClearFailure(await startWith({ TLSType: 'pfx', TLSFile: path.join(dir, 'cert.pfx'), TLSPassword: 'x' }), /cannot read TLSFile .*cert\.pfx: it is a directory, not a regular file; point TLSFile at the keystore or private key file itself/);
  });

  it('wrong PFX password', async () => {
    assertClearFailure(await startWith({ TLSType: 'pfx', TLSFile: tlsFixture('server.pfx'), TLSPassword: 'wrong' }), /server\.pfx: wrong TLSPassword for this PKCS#12 file/);
  });

  it('PFX that needs a password, given none', async () => {
    assertClearFailure(await startWith({ TLSType: 'pfx', TLSFile: tlsFixture('server.pfx'), TLSPassword: '' }), /wrong TLSPassword .*; it needs a password/);
  });

  it('legacy PKCS12 (RC2/3DES)', async () => {
    assertClearFailure(
      await startWith({ TLSType: 'pfx', TLSFile: tlsFixture('server-legacy.pfx'), TLSPassword: 'changeit' }),
      /server-legacy\.pfx uses legacy PKCS#12 encryption/,
      /openssl pkcs12 -legacy -in .*server-legacy\.pfx/,
    );
  });

  it('JCEKS keystore', async () => {
    assertClearFailure(
      await startWith({ TLSType: 'jks', TLSFile: tlsFixture('server.jceks'), TLSPassword: 'changeit' }),
      /server\.jceks is a JCEKS keystore, which keepd cannot read/,
      /keytool -importkeystore .* -srcstoretype JCEKS .* -deststoretype PKCS12/,
    );
  });

  it('wrong JKS password', async () => {
    assertClearFailure(await startWith({ TLSType: 'jks', TLSFile: tlsFixture('server.jks'), TLSPassword: 'wrongpass' }), /server\.jks: wrong TLSPassword for this JKS keystore/);
  });

  it('key not matching certificate', async () => {
    assertClearFailure(
      await startWith({ TLSType: 'pem', TLSFile: tlsFixture('other.key.pem'), PEMCert: tlsFixture('server.chain.pem') }),
      /the private key TLSFile .*other\.key\.pem does not match the certificate PEMCert .*server\.chain\.pem: use the key the certificate was issued for/,
    );
  });

  it('encrypted PEM key without or with a wrong password', async () => {
    const encrypted = { TLSType: 'pem', TLSFile: tlsFixture('server.key.encrypted.pem'), PEMCert: tlsFixture('server.chain.pem') };
    assertClearFailure(await startWith(encrypted), /the private key is encrypted; set TLSPassword/);
    assertClearFailure(await startWith({ ...encrypted, TLSPassword: 'nope' }), /server\.key\.encrypted\.pem: wrong TLSPassword for the encrypted private key/);
  });

  it('PEM key and chain swapped', async () => {
    assertClearFailure(
      await startWith({ TLSType: 'pem', TLSFile: tlsFixture('server.chain.pem'), PEMCert: tlsFixture('server.key.pem') }),
      /TLSFile .*server\.chain\.pem holds a certificate and PEMCert .*server\.key\.pem the key: .* swap them/,
    );
  });

  it('a PEM file declared as pfx', async () => {
    assertClearFailure(await startWith({ TLSType: 'pfx', TLSFile: tlsFixture('server.key.pem'), TLSPassword: '' }), /is a PEM file, not a pfx keystore: use TLSType "pem"/);
  });
});
