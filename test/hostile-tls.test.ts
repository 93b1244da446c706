import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { copyFile, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { expiredSwaps, tlsWarnings } from '../src/tls/certificate-checks.js';
import type { CertificateSummary } from '../src/tls/certificate-summary.js';
import { certificateValidity, validityWarning, type CertificateValidity } from '../src/tls/certificate-validity.js';
import type { ReadFailure } from '../src/config/safe-read.js';
import { describeTlsReadFailure, TLS_READ_LIMITS, type TlsMaterial } from '../src/tls/load-tls-material.js';
import { request } from './helpers/http-client.js';
import { failedStart, startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { CLI } from './helpers/paths.js';
import { functionalUsers, TEST_BASE, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';
import { certificateFor } from './helpers/dated-certificate.js';

/*
 * TLS files an admin (or a mount, or a clock) puts in keepd's way: FIFOs, devices, huge files,
 * expired and not yet valid certificates. Against the real daemon where only a daemon shows it.
 */

const run = promisify(execFile);
const DAY = 86_400_000;


// ---------------------------------------------------------------------------------------------
// FIFOs: made with mkfifo; whatever a test did, no reader is left blocked on one.

const fifos: string[] = [];

async function mkfifo(file: string): Promise<string> {
  await run('mkfifo', [file]);
  fifos.push(file);
  return file;
}

/**
 * Opens the FIFO's write end without blocking and closes it: a reader blocked on it (in keepd,
 * were it to open one) gets end-of-file. ENXIO means no reader, so nothing to release.
 */
function releaseFifo(file: string): void {
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO (no reader) or ENOENT (already replaced): nobody waits on it.
  }
}

after(() => {
  for (const file of fifos) releaseFifo(file);
});

/** `keepd check`, killed (and the test failed) if it does not end within `timeoutMs`. */
function checkWithin(configDir: string, timeoutMs = 10_000): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(CLI, ['check', '--config-dir', configDir], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keepd check still running after ${timeoutMs} ms (blocked on a TLS file?); stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

/** `promise`, or a failure naming `what` once `ms` have passed (a hang fails the test, it does not stall it). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function configWith(tls: object, extra: Record<string, object> = {}): Promise<string> {
  return tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': { ...TEST_BASE, watch: { enabled: false } }, 'tls.json': tls, ...extra });
}

async function reload(keepd: KeepdProcess): Promise<{ status: string; changes?: string[]; problems?: string[] }> {
  const answer = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/reload`, { method: 'POST', auth: [...USERS.management] });
  return answer.json() as { status: string; changes?: string[]; problems?: string[] };
}

/** The serial number of the certificate the health listener presents now (uppercase hex). */
async function servedSerial(keepd: KeepdProcess): Promise<string> {
  const answer = await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
  assert.equal(answer.status, 200, answer.body);
  return (answer.serialNumber ?? '').toUpperCase();
}

async function serialOf(pemFile: string): Promise<string> {
  return new X509Certificate(await readFile(pemFile)).serialNumber.toUpperCase();
}

const EXPIRED = { start: '20200101000000Z', end: '20210101000000Z', notAfter: '2021-01-01T00:00:00.000Z' };
const FUTURE = { start: '20990101000000Z', end: '21000101000000Z', notBefore: '2099-01-01T00:00:00.000Z' };

// ---------------------------------------------------------------------------------------------

describe('certificate validity at a moment (pure)', () => {
  const from = Date.parse('2025-01-01T00:00:00.000Z');
  const to = Date.parse('2025-12-31T00:00:00.000Z');
  const certificate = (validFrom: number, validTo: number): CertificateSummary => ({
    subject: 'CN=keepd.example', issuer: 'CN=ca', subjectAltName: undefined, serialNumber: '0A', fingerprint256: '',
    validFrom: new Date(validFrom).toISOString(), validTo: new Date(validTo).toISOString(), validToMs: validTo,
  });

  it('classifies: valid (both ends inclusive), expired, not yet valid, with whole days', () => {
    const table: [string, number, CertificateValidity][] = [
      ['in the middle', from + 100 * DAY, { state: 'valid', daysLeft: Math.floor((to - from) / DAY) - 100 }],
      ['at notBefore', from, { state: 'valid', daysLeft: Math.floor((to - from) / DAY) }],
      ['at notAfter', to, { state: 'valid', daysLeft: 0 }],
      ['a day before notAfter', to - DAY, { state: 'valid', daysLeft: 1 }],
      ['1 ms after notAfter', to + 1, { state: 'expired', daysAgo: 0 }],
      ['a day and 1 ms after notAfter', to + DAY + 1, { state: 'expired', daysAgo: 1 }],
      ['400 days after notAfter', to + 400 * DAY, { state: 'expired', daysAgo: 400 }],
      ['1 ms before notBefore', from - 1, { state: 'not-yet-valid', daysUntilValid: 0 }],
      ['3 days before notBefore', from - 3 * DAY, { state: 'not-yet-valid', daysUntilValid: 3 }],
    ];
    for (const [label, now, expected] of table) assert.deepEqual(certificateValidity(certificate(from, to), now), expected, label);
    // notAfter before notBefore (`openssl x509 -days -1` makes those): never valid, called expired.
    assert.deepEqual(certificateValidity(certificate(to, from), from + DAY), { state: 'expired', daysAgo: 1 });
  });

  it('words the warning: file, date, how long, what to do; nothing for a valid certificate', () => {
    const cert = certificate(from, to);
    assert.equal(validityWarning(cert, 'PEMCert /etc/keepd/chain.pem', from + DAY), undefined);
    assert.equal(
      validityWarning(cert, 'PEMCert /etc/keepd/chain.pem', to + 3 * DAY),
      'the certificate (CN=keepd.example, serial 0A) in PEMCert /etc/keepd/chain.pem expired on 2025-12-31T00:00:00.000Z (3 days ago): clients refuse it. ' +
        'Install a renewed certificate with its key, then reload (a running keepd does not swap to an expired certificate)',
    );
    assert.match(validityWarning(cert, 'TLSFile /k.pfx', to + 1) ?? '', /expired on 2025-12-31T00:00:00\.000Z \(less than a day ago\)/);
    assert.equal(
      validityWarning(cert, 'TLSFile /k.pfx', from - DAY),
      'the certificate (CN=keepd.example, serial 0A) in TLSFile /k.pfx is not valid before 2025-01-01T00:00:00.000Z ' +
        "(in 1 day; this machine's clock says 2024-12-31T00:00:00.000Z): clients refuse it until then. Check this machine's clock, or install a certificate that is valid now",
    );
  });

  const material = (serialNumber: string, validTo: number, warnings: string[] = []): TlsMaterial => ({
    options: {},
    digest: `digest-${serialNumber}`,
    certificate: { ...certificate(from, validTo), serialNumber },
    certificateFile: `PEMCert /certs/${serialNumber}.pem`,
    warnings,
  });

  it('tlsWarnings: each warning once, naming the listeners that present the certificate', () => {
    const expired = material('EE', to, ['the certificate ... expired']);
    assert.deepEqual(tlsWarnings({ data: { tls: expired }, health: { tls: expired }, management: { tls: material('0B', to) }, metrics: { tls: undefined } }), [
      'TLS of the data and health listeners: the certificate ... expired',
    ]);
    assert.deepEqual(tlsWarnings({ data: { tls: expired } }), ['TLS of the data listener: the certificate ... expired']);
  });

  it('expiredSwaps: refuses to replace a served certificate with an expired one, and only that', () => {
    const now = to + 10 * DAY;
    const good = material('0G', to + 365 * DAY);
    const expired = material('EE', to);
    const otherExpired = material('EF', to);
    const refused = expiredSwaps({ data: { tls: good }, health: { tls: good }, management: { tls: good } }, { data: { tls: expired }, health: { tls: expired }, management: { tls: good }, metrics: { tls: expired } }, now);
    assert.deepEqual(refused, [
      'TLS of the data and health listeners: the certificate (CN=keepd.example, serial EE) in PEMCert /certs/EE.pem expired on 2025-12-31T00:00:00.000Z (10 days ago); ' +
        'keepd does not swap to an expired certificate and keeps serving the running one (serial 0G, valid until 2026-12-31T00:00:00.000Z). Install a renewed certificate with its key, then reload',
    ]);
    const none: [string, Parameters<typeof expiredSwaps>[0], Parameters<typeof expiredSwaps>[1]][] = [
      ['the same expired certificate keeps running (keepd was started with it)', { data: { tls: expired } }, { data: { tls: expired } }],
      ['a listener that did not run', {}, { data: { tls: expired } }],
      ['a listener that served plain http', { data: { tls: undefined } }, { data: { tls: expired } }],
      ['a valid new certificate', { data: { tls: expired } }, { data: { tls: good } }],
      ['TLS off', { data: { tls: good } }, { data: { tls: undefined } }],
    ];
    for (const [label, running, next] of none) assert.deepEqual(expiredSwaps(running, next, now), [], label);
    assert.equal(expiredSwaps({ data: { tls: expired } }, { data: { tls: otherExpired } }, now).length, 1, 'an expired certificate for another expired one: still refused');
    assert.deepEqual(expiredSwaps({ data: { tls: good } }, { data: { tls: material('NY', to + 900 * DAY) } }, from - DAY), [], 'not yet valid: a warning, not a refusal');
  });
});

describe('TLS read failures, worded for TLSFile and PEMCert', () => {
  it('says what the file is, the limit, and what to do', () => {
    const table: [ReadFailure, 'TLSFile' | 'PEMCert', string][] = [
      [{ kind: 'not-regular', file: '/k/tls.key', type: 'FIFO (named pipe)' }, 'TLSFile', 'cannot read TLSFile /k/tls.key: it is a FIFO (named pipe), not a regular file; point TLSFile at the keystore or private key file itself'],
      [{ kind: 'not-regular', file: '/k/chain.pem', type: 'socket' }, 'PEMCert', 'cannot read PEMCert /k/chain.pem: it is a socket, not a regular file; point PEMCert at the certificate chain file itself'],
      [{ kind: 'missing', file: '/k/a.pfx' }, 'TLSFile', 'cannot read TLSFile /k/a.pfx: it does not exist; check the path (relative paths are resolved against the configuration directory)'],
      [{ kind: 'missing', file: '/k/a.pfx', danglingLink: { missingTarget: '/k/..data/a.pfx' } }, 'TLSFile', 'cannot read TLSFile /k/a.pfx: it is a symbolic link to /k/..data/a.pfx, which does not exist; restore the target or fix the link'],
      [
        { kind: 'too-large', file: '/k/a.pfx', size: 2 * 1024 * 1024, maxBytes: 1024 * 1024 },
        'TLSFile',
        'cannot read TLSFile /k/a.pfx: it is 2,097,152 bytes (2.0 MiB), over the limit of 1 MiB for a TLS file (a keystore or PEM file is a few KiB); check that TLSFile names the right file',
      ],
      [
        { kind: 'timeout', file: '/mnt/nfs/a.pfx', deadlineMs: 5000, state: 'timed-out' },
        'TLSFile',
        'cannot read TLSFile /mnt/nfs/a.pfx: reading it did not finish within 5 s (a hung network mount?); fix the mount or copy the file to a local disk',
      ],
      [
        // Still stuck from an earlier reload: the same words (the problem is logged once).
        { kind: 'timeout', file: '/mnt/nfs/a.pfx', deadlineMs: 5000, state: 'still-pending' },
        'TLSFile',
        'cannot read TLSFile /mnt/nfs/a.pfx: reading it did not finish within 5 s (a hung network mount?); fix the mount or copy the file to a local disk',
      ],
      [
        { kind: 'timeout', file: '/k/chain.pem', deadlineMs: 5000, state: 'too-many-stuck', stuck: ['/mnt/nfs/a.pfx', '/mnt/nfs/b.json'] },
        'PEMCert',
        'cannot read PEMCert /k/chain.pem: not tried, because reading /mnt/nfs/a.pfx, /mnt/nfs/b.json did not finish within 5 s (a hung network mount?) and no other read starts until one of them ends; fix the mount',
      ],
      [
        { kind: 'io', file: '/k/a.pfx', code: 'EACCES', cause: Object.assign(new Error('EACCES'), { code: 'EACCES' }) },
        'TLSFile',
        'cannot read TLSFile /k/a.pfx: permission denied; make it readable by the user keepd runs as',
      ],
      [{ kind: 'io', file: '/k/a.pfx', code: 'ELOOP', cause: undefined }, 'TLSFile', 'cannot read TLSFile /k/a.pfx: it is a symbolic link loop'],
    ];
    for (const [failure, key, expected] of table) assert.equal(describeTlsReadFailure(failure, key), expected);
  });
});

describe('hostile TLS files: keepd check and start fail at once, naming the file', () => {
  const quick = (result: { code: number | null; stderr: string; ms: number }, pattern: RegExp): void => {
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, pattern);
    // Refused by its type before any read: long before the read deadline could have fired.
    assert.ok(result.ms < TLS_READ_LIMITS.deadlineMs, `took ${result.ms} ms`);
  };

  it('a FIFO as TLSFile (pfx) and as the PEM key', async () => {
    const fifo = await mkfifo(path.join(await tempDir(), 'keystore.pfx'));
    quick(await checkWithin(await configWith({ TLSType: 'pfx', TLSFile: fifo, TLSPassword: 'changeit' })), new RegExp(`cannot read TLSFile ${fifo}: it is a FIFO \\(named pipe\\), not a regular file; point TLSFile at the keystore or private key file itself`));
    quick(await checkWithin(await configWith({ TLSType: 'pem', TLSFile: fifo, PEMCert: tlsFixture('server.chain.pem') })), /cannot read TLSFile .*keystore\.pfx: it is a FIFO \(named pipe\), not a regular file/);
  });

  it('a FIFO as PEMCert, and a symbolic link to a FIFO', async () => {
    const dir = await tempDir();
    const fifo = await mkfifo(path.join(dir, 'chain.pem'));
    quick(await checkWithin(await configWith({ TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: fifo })), /cannot read PEMCert .*chain\.pem: it is a FIFO \(named pipe\), not a regular file; point PEMCert at the certificate chain file itself/);
    await symlink(fifo, path.join(dir, 'link.pem'));
    quick(await checkWithin(await configWith({ TLSType: 'pem', TLSFile: path.join(dir, 'link.pem'), PEMCert: tlsFixture('server.chain.pem') })), /cannot read TLSFile .*link\.pem: it is a FIFO \(named pipe\), not a regular file/);
  });

  it('a character device that never ends (/dev/zero) and a file far too large for a keystore', async () => {
    quick(await checkWithin(await configWith({ TLSType: 'pfx', TLSFile: '/dev/zero', TLSPassword: '' })), /cannot read TLSFile \/dev\/zero: it is a character device, not a regular file/);
    const big = path.join(await tempDir(), 'huge.pfx');
    await writeFile(big, Buffer.alloc(TLS_READ_LIMITS.maxBytes + 1));
    quick(
      await checkWithin(await configWith({ TLSType: 'pfx', TLSFile: big, TLSPassword: '' })),
      /cannot read TLSFile .*huge\.pfx: it is 1,048,577 bytes \(1\.0 MiB\), over the limit of 1 MiB for a TLS file \(a keystore or PEM file is a few KiB\); check that TLSFile names the right file/,
    );
  });

  it('keepd start with a FIFO as TLSFile exits 2 at once', async () => {
    const fifo = await mkfifo(path.join(await tempDir(), 'tls.key'));
    const started = Date.now();
    const result = await failedStart(await configWith({ TLSType: 'pem', TLSFile: fifo, PEMCert: tlsFixture('server.chain.pem') }));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /TLS of the data, health, management and metrics listeners: cannot read TLSFile .*tls\.key: it is a FIFO \(named pipe\), not a regular file/);
    assert.ok(Date.now() - started < TLS_READ_LIMITS.deadlineMs + 5000);
  });
});

describe('a running keepd and a FIFO in place of its key', () => {
  it('refuses each reload at once, keeps serving TLS, applies the fix, and stops on SIGTERM', async () => {
    const certs = await tempDir();
    const key = path.join(certs, 'tls.key');
    const chain = path.join(certs, 'tls.crt');
    await copyFile(tlsFixture('server.key.pem'), key);
    await copyFile(tlsFixture('server.chain.pem'), chain);
    const keepd = await startKeepd(await configWith({ TLSType: 'pem', TLSFile: key, PEMCert: chain }));
    try {
      const original = await serialOf(tlsFixture('server.cert.pem'));
      const renewed = await serialOf(tlsFixture('renewed.cert.pem'));
      assert.equal(await servedSerial(keepd), original);

      // A renewal half done: the new chain is there, the key is a FIFO.
      await rm(key);
      await mkfifo(key);
      await copyFile(tlsFixture('renewed.chain.pem'), chain);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const started = Date.now();
        const refused = await within(reload(keepd), 10_000, `POST /reload ${attempt}`);
        assert.equal(refused.status, 'rejected', JSON.stringify(refused));
        assert.match(refused.problems?.join('\n') ?? '', /cannot read TLSFile .*tls\.key: it is a FIFO \(named pipe\), not a regular file/);
        assert.ok(Date.now() - started < TLS_READ_LIMITS.deadlineMs, `reload ${attempt} answered at once`);
        assert.equal(await servedSerial(keepd), original, 'the running certificate is still served');
      }

      // The FIFO replaced by the real key: the next reload applies.
      releaseFifo(key);
      await rm(key);
      await copyFile(tlsFixture('renewed.key.pem'), key);
      const applied = await within(reload(keepd), 10_000, 'POST /reload after the fix');
      assert.equal(applied.status, 'applied', JSON.stringify(applied));
      assert.ok(applied.changes?.some((change) => /^health: swap-tls/.test(change)), JSON.stringify(applied));
      assert.equal(await servedSerial(keepd), renewed);

      assert.equal(await within(keepd.stop('SIGTERM'), 10_000, 'SIGTERM'), 0, 'SIGTERM finishes');
    } finally {
      releaseFifo(key);
      // Never waits on a daemon that a stuck read would keep from stopping.
      if (keepd.child.exitCode === null && keepd.child.signalCode === null) keepd.child.kill('SIGKILL');
      await keepd.exited;
    }
  });
});

describe('expired and not yet valid certificates', () => {
  it('keepd check warns on stderr, naming the listeners, the file, the date and what to do', async () => {
    const expired = await certificateFor('keepd test server (expired)', EXPIRED.start, EXPIRED.end);
    const result = await checkWithin(await configWith({ TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: expired }));
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `keepd: warning: TLS of the data, health, management and metrics listeners: the certificate \\(CN=keepd test server \\(expired\\), serial [0-9A-F]+\\) in PEMCert ${expired} ` +
          `expired on ${EXPIRED.notAfter.replaceAll('.', '\\.')} \\(\\d+ days ago\\): clients refuse it\\. Install a renewed certificate with its key, then reload`,
      ),
    );

    const future = await certificateFor('keepd test server (future)', FUTURE.start, FUTURE.end);
    const early = await checkWithin(await configWith({ TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: future }));
    assert.equal(early.code, 0, early.stderr);
    assert.match(early.stderr, new RegExp(`keepd: warning: TLS of the data, health, management and metrics listeners: the certificate .* in PEMCert ${future} is not valid before ${FUTURE.notBefore.replaceAll('.', '\\.')} \\(in \\d+ days; `));
  });

  it('keepd start logs the warning and serves (as the admin asked)', async () => {
    const expired = await certificateFor('keepd test server (expired)', EXPIRED.start, EXPIRED.end);
    const keepd = await startKeepd(await configWith({ TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: expired }));
    try {
      const warning = await keepd.waitForLog((line) => line.level === 40 && /expired on 2021-01-01/.test(line.msg), 3000);
      assert.match(warning.msg, /^TLS of the data, health, management and metrics listeners: the certificate \(CN=keepd test server \(expired\)/);
    } finally {
      await keepd.stop();
    }
  });

  it('a reload does not swap a served certificate for an expired one; a valid renewal then applies', async () => {
    const certs = await tempDir();
    const chain = path.join(certs, 'tls.crt');
    await copyFile(tlsFixture('server.chain.pem'), chain);
    const keepd = await startKeepd(await configWith({ TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: chain }));
    try {
      const original = await serialOf(tlsFixture('server.cert.pem'));
      await copyFile(await certificateFor('keepd test server (expired)', EXPIRED.start, EXPIRED.end), chain);
      const refused = await reload(keepd);
      assert.equal(refused.status, 'rejected', JSON.stringify(refused));
      assert.match(
        refused.problems?.join('\n') ?? '',
        new RegExp(`TLS of the data, health, management and metrics listeners: the certificate \\(CN=keepd test server \\(expired\\), serial [0-9A-F]+\\) in PEMCert ${chain} expired on 2021-01-01T00:00:00\\.000Z \\(\\d+ days ago\\); keepd does not swap to an expired certificate and keeps serving the running one \\(serial ${original},`),
      );
      assert.equal(await servedSerial(keepd), original);

      const fresh = await certificateFor('keepd test server (fresh)', '20240101000000Z', '20990101000000Z');
      await copyFile(fresh, chain);
      const applied = await reload(keepd);
      assert.equal(applied.status, 'applied', JSON.stringify(applied));
      assert.equal(await servedSerial(keepd), await serialOf(fresh));
    } finally {
      await keepd.stop();
    }
  });
});
