import assert from 'node:assert/strict';
import { connect, type SecureVersion } from 'node:tls';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { builtInDefaults } from '../src/config/defaults.js';
import type { JsonObject } from '../src/config/json.js';
import { mergeLayers } from '../src/config/merge.js';
import { validateConfig } from '../src/config/schema.js';
import { DEFAULT_CIPHERS, LEGACY_CIPHERS, resolveTlsPolicy, usableBeforeTls12 } from '../src/tls/tls-policy.js';
import { TEST_CA } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { eventually } from './helpers/eventually.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, tlsFixture } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const source = (): string => 'test.json';

/** The TLS policy of `file` merged over keepd's defaults, as a load would do. */
function policyOf(file: JsonObject): ReturnType<typeof resolveTlsPolicy> {
  const { config, sources } = mergeLayers([{ source: 'default', data: builtInDefaults() }, { source: 'test.json', data: file }]);
  const validation = validateConfig(config, sources);
  if (!validation.ok) throw new Error(JSON.stringify(validation.problems));
  return resolveTlsPolicy(validation.config, source);
}

/** A real TLS handshake; resolves with the negotiated protocol and cipher, or the error code. */
function handshake(port: number, options: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string }): Promise<{ protocol?: string | null; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: TEST_CA, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('TLS policy from the product keys', () => {
  it('defaults to TLS 1.2..1.3 with ECDHE/AEAD suites only', () => {
    const { policy, problems } = policyOf({});
    assert.deepEqual(problems, []);
    assert.ok(policy);
    assert.equal(policy.minVersion, 'TLSv1.2');
    assert.equal(policy.maxVersion, 'TLSv1.3');
    assert.equal(policy.ciphers, DEFAULT_CIPHERS.join(':'));
    for (const cipher of DEFAULT_CIPHERS) assert.match(cipher, /^TLS_|^ECDHE-.*(GCM|CHACHA20)/);
  });

  it('honours enabledProtocols and removeInsecureProtocols', () => {
    assert.equal(policyOf({ enabledProtocols: { 'TLSv1.2': false } }).policy?.minVersion, 'TLSv1.3');
    assert.equal(policyOf({ enabledProtocols: { 'TLSv1.3': false } }).policy?.maxVersion, 'TLSv1.2');
    const legacy = policyOf({ enabledProtocols: { 'TLSv1.1': true } }).policy;
    assert.ok(legacy);
    assert.equal(legacy.minVersion, 'TLSv1.1');
    assert.match(legacy.ciphers, /@SECLEVEL=0$/);
    assert.match(legacy.warnings.join(), /TLSv1\.1 enabled by enabledProtocols: these versions are insecure/);
    const removed = policyOf({ enabledProtocols: { 'TLSv1.1': true }, removeInsecureProtocols: { 'TLSv1.1': true, SSLv2Hello: true } }).policy;
    assert.equal(removed?.minVersion, 'TLSv1.2');
  });

  it('TLS 1.0/1.1 enabled explicitly: served for real, or a warning that they cannot be', () => {
    const table: { file: JsonObject; ciphers: string; warning: RegExp }[] = [
      {
        file: { enabledProtocols: { 'TLSv1.1': true } },
        ciphers: [...DEFAULT_CIPHERS, ...LEGACY_CIPHERS, '@SECLEVEL=0'].join(':'),
        warning: /^TLSv1\.1 enabled by enabledProtocols: these versions are insecure; .* served with TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, .* \(added to the default suites for them\), at OpenSSL security level 0/,
      },
      {
        file: { enabledProtocols: { TLSv1: true, 'TLSv1.1': true } },
        ciphers: [...DEFAULT_CIPHERS, ...LEGACY_CIPHERS, '@SECLEVEL=0'].join(':'),
        warning: /^TLSv1 and TLSv1\.1 enabled by enabledProtocols: these versions are insecure/,
      },
      {
        file: { enabledProtocols: { 'TLSv1.1': true }, cipher: { TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: true, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: true } },
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA:@SECLEVEL=0',
        warning: /served with TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, at OpenSSL security level 0/,
      },
      {
        // An explicit list with no suite TLS 1.1 can use: said plainly, and TLS 1.2 is not weakened for nothing.
        file: { enabledProtocols: { 'TLSv1.1': true }, cipher: { TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: true } },
        ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
        warning: /^TLSv1\.1 enabled by enabledProtocols, but no enabled cipher suite works before TLS 1\.2 .*: TLSv1\.1 clients cannot connect.* Add such a suite to cipher, or remove TLSv1\.1$/,
      },
      {
        file: { enabledProtocols: { 'TLSv1.1': true }, cipher: Object.fromEntries(LEGACY_CIPHERS.map((c) => [c, false])) },
        ciphers: DEFAULT_CIPHERS.join(':'),
        warning: /TLSv1\.1 clients cannot connect.*\(or stop switching them off\)/,
      },
    ];
    for (const { file, ciphers, warning } of table) {
      const { policy, problems } = policyOf(file);
      assert.deepEqual(problems, [], JSON.stringify(file));
      assert.equal(policy?.ciphers, ciphers, JSON.stringify(file));
      assert.equal(policy.warnings.length, 1, JSON.stringify(policy.warnings));
      assert.match(policy.warnings[0] ?? '', warning);
    }
    // Without TLS 1.0/1.1, never a legacy suite nor a lowered security level.
    assert.doesNotMatch(policyOf({}).policy?.ciphers ?? '', /-SHA(:|$)|SECLEVEL/);
  });

  it('knows which suites TLS 1.0/1.1 can negotiate', () => {
    for (const name of [...LEGACY_CIPHERS, 'AES128-SHA', 'DHE-RSA-CAMELLIA256-SHA']) assert.equal(usableBeforeTls12(name), true, name);
    for (const name of [...DEFAULT_CIPHERS, 'ECDHE-RSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384', 'AES128-CCM']) assert.equal(usableBeforeTls12(name), false, name);
  });

  it('refuses unknown names, gaps and empty sets, naming the key and its file', () => {
    const problems = (file: JsonObject) => policyOf(file).problems.map((p) => `${p.source}: ${p.path ?? ''}: ${p.message}`);
    assert.match(problems({ enabledProtocols: { 'TLSv1.4': true } })[0] ?? '', /^test\.json: enabledProtocols\["TLSv1\.4"\]: unknown protocol/);
    assert.match(problems({ enabledProtocols: { 'TLSv1.2': false, 'TLSv1.3': false } })[0] ?? '', /leaves no TLS protocol enabled/);
    assert.match(problems({ enabledProtocols: { TLSv1: true, 'TLSv1.1': false } })[0] ?? '', /contiguous range/);
    assert.match(problems({ cipher: { TLS_FANCY_NEW: true } })[0] ?? '', /cipher\.TLS_FANCY_NEW: unknown cipher suite/);
    assert.match(problems({ cipher: Object.fromEntries(DEFAULT_CIPHERS.map((c) => [c, false])) })[0] ?? '', /leaves no cipher suite enabled/);
  });

  it('maps IANA (Java) cipher names to OpenSSL names', () => {
    const { policy } = policyOf({ cipher: { TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: true, TLS_AES_256_GCM_SHA384: true, 'ECDHE-RSA-CHACHA20-POLY1305': true } });
    assert.equal(policy?.ciphers, 'ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384:ECDHE-RSA-CHACHA20-POLY1305');
  });
});

describe('TLS policy on the wire', () => {
  it('refuses TLS 1.1 and weak ciphers by default; serves 1.2 and 1.3', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    const keepd = await startKeepd(dir);
    try {
      const port = keepd.ports.health ?? 0;
      assert.ok((await handshake(port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' })).error);
      assert.ok((await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA' })).error, 'CBC and RSA key exchange are off');
      assert.equal((await handshake(port, { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
      assert.equal((await handshake(port, {})).protocol, 'TLSv1.3');
    } finally {
      await keepd.stop();
    }
  });

  it('honours enabledProtocols and cipher from the product configuration', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
      'policy.json': { enabledProtocols: { 'TLSv1.2': true, 'TLSv1.3': false }, cipher: { TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: true } },
    });
    const keepd = await startKeepd(dir);
    try {
      const port = keepd.ports.data ?? 0;
      assert.ok((await handshake(port, { minVersion: 'TLSv1.3' })).error, 'TLS 1.3 switched off');
      assert.deepEqual(await handshake(port, {}), { protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384' });
    } finally {
      await keepd.stop();
    }
  });

  it('TLS 1.0 and 1.1, when enabled explicitly, really handshake (legacy ECDHE CBC suites, security level 0); 1.2 and 1.3 keep AEAD', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
      'policy.json': { enabledProtocols: { TLSv1: true, 'TLSv1.1': true } },
    });
    const keepd = await startKeepd(dir);
    try {
      const port = keepd.ports.health ?? 0;
      // What an old client offers: its own defaults, at OpenSSL 3's lowest security level.
      assert.deepEqual(await handshake(port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), { protocol: 'TLSv1.1', cipher: 'ECDHE-RSA-AES128-SHA' });
      assert.deepEqual(await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }), { protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES128-SHA' });
      assert.deepEqual(await handshake(port, { maxVersion: 'TLSv1.2' }), { protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' }, 'TLS 1.2 clients still get AEAD first');
      assert.equal((await handshake(port, {})).protocol, 'TLSv1.3');
      const warning = await keepd.waitForLog((line) => line.level === 40 && /TLSv1 and TLSv1\.1 enabled by enabledProtocols/.test(line.msg));
      assert.match(warning.msg, /these versions are insecure/);
    } finally {
      await keepd.stop();
    }
  });

  it('resumes sessions of returning clients (TLS 1.3 tickets), also across a certificate renewal', async () => {
    const certs = await tempDir();
    await copyFile(tlsFixture('server.key.pem'), path.join(certs, 'tls.key'));
    await copyFile(tlsFixture('server.chain.pem'), path.join(certs, 'tls.crt'));
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': { TLSType: 'pem', TLSFile: path.join(certs, 'tls.key'), PEMCert: path.join(certs, 'tls.crt') } });
    const keepd = await startKeepd(dir);
    try {
      const port = keepd.ports.health ?? 0;
      const first = await resumable(port, undefined);
      assert.equal(first.reused, false);
      const again = await resumable(port, first.session);
      assert.equal(again.reused, true, 'a returning client resumes');

      const beforeRenewal = await resumable(port, undefined); // a ticket issued under the old certificate
      await copyFile(tlsFixture('renewed.key.pem'), path.join(certs, 'tls.key'));
      await copyFile(tlsFixture('renewed.chain.pem'), path.join(certs, 'tls.crt'));
      await eventually(async () => assert.equal((await resumable(port, undefined)).subject, 'keepd test server (renewed)'));
      assert.equal((await resumable(port, beforeRenewal.session)).reused, true, 'the ticket keys survived the renewal');
    } finally {
      await keepd.stop();
    }
  });
});

/** One TLS connection that reads an answer (tickets arrive after the handshake); with `session`, an attempt to resume. */
function resumable(port: number, session: Buffer | undefined): Promise<{ reused: boolean; session: Buffer | undefined; subject: string | undefined }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    let subject: string | undefined;
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: TEST_CA, ...(session ? { session } : {}) }, () => {
      const peer = socket.getPeerCertificate();
      // A resumed TLS 1.3 session presents no certificate: Node gives an empty object then.
      subject = Object.keys(peer).length > 0 ? String(peer.subject.CN) : undefined;
      socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (value: Buffer) => (ticket = value));
    socket.on('data', () => undefined);
    socket.on('end', () => resolve({ reused: socket.isSessionReused(), session: ticket, subject }));
    socket.on('error', reject);
  });
}
