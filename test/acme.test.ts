import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess, type LogLine } from './helpers/keepd-process.js';
import { startPebble, stopAllPebbles, type Pebble } from './helpers/pebble.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, USERS } from './helpers/test-config.js';

/*
 * Certificates from a real ACME server: Let's Encrypt's test server pebble, validating keepd's
 * answers to tls-alpn-01 and http-01 on loopback (test/helpers/pebble.ts).
 */

const DOMAINS = ['keepd.test', 'www.keepd.test'];

interface Presented {
  serialNumber: string;
  subjectAltName: string;
  authorized: boolean;
  authorizationError: string | undefined;
}

/** The certificate a TLS listener presents for `servername`, verified against `ca`. */
async function presented(port: number, servername: string, ca: string): Promise<Presented> {
  const socket = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  try {
    await once(socket, 'secureConnect');
    const peer = socket.getPeerCertificate();
    return { serialNumber: peer.serialNumber, subjectAltName: peer.subjectaltname ?? '', authorized: socket.authorized, authorizationError: socket.authorized ? undefined : String(socket.authorizationError) };
  } finally {
    socket.destroy();
  }
}

const newCertificate = (line: LogLine): boolean => line.msg.startsWith('ACME: new certificate');

async function health(keepd: KeepdProcess): Promise<{ status: number; body: { status: string; components: Partial<Record<string, Record<string, unknown>>> } }> {
  const response = await request(`http://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
  return { status: response.status, body: response.json() as { status: string; components: Partial<Record<string, Record<string, unknown>>> } };
}

async function keepdDir(acme: object, extra: object = {}): Promise<string> {
  return tempDir({ 'a.json': { ...TEST_BASE, ...extra, acme }, 'users.json': await functionalUsers() });
}

after(() => stopAllPebbles());

describe('ACME with tls-alpn-01: obtain, renew live, keep the certificate through a failed renewal, restart without the CA', () => {
  let pebble: Pebble;
  let dataPort: number;
  let stateDir: string;
  let configDir: string;
  let keepd: KeepdProcess;
  let root: string;
  let first: Presented;
  const acme = (extra: object = {}) => ({ directory: pebble.directory, caFile: pebble.caFile, domains: DOMAINS, email: 'admin@keepd.test', stateDir, listeners: ['data'], ...extra });

  before(async () => {
    dataPort = await freePort();
    pebble = await startPebble({ tlsPort: dataPort, httpPort: await freePort() });
    stateDir = path.join(await tempDir(), 'state');
    configDir = await keepdDir(acme(), { PORT: dataPort });
  });
  after(async () => {
    // undefined when a filter (--test-name-pattern) ran none of this suite's tests
    await (keepd as KeepdProcess | undefined)?.stop();
  });

  it('starts without a certificate, answers tls-alpn-01 on the data listener, and serves the certificate it obtained', async () => {
    keepd = await startKeepd(configDir);
    await keepd.waitForLog(newCertificate, 20_000);
    root = await pebble.issuingRoot();
    first = await presented(dataPort, 'keepd.test', root);
    assert.equal(first.authorized, true, first.authorizationError);
    assert.equal(first.subjectAltName, 'DNS:keepd.test, DNS:www.keepd.test');
    assert.equal((await presented(dataPort, 'www.keepd.test', root)).serialNumber, first.serialNumber);
    const report = await health(keepd);
    assert.equal(report.status, 200);
    assert.equal(report.body.components.acme?.status, 'ok');
    assert.equal(report.body.components.acme.state, 'valid');
    assert.equal(report.body.components.listeners?.data && (report.body.components.listeners.data as { scheme: string }).scheme, 'https');
  });

  it('keeps its state private: the folder 0700, the keys 0600', async () => {
    const [folder] = await stateFolders(stateDir);
    assert.equal((await stat(stateDir)).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(stateDir, folder))).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(stateDir, folder, 'account.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(stateDir, folder, 'keepd.test', 'certificate.pem'))).mode & 0o777, 0o600);
  });

  it('renews when due (renewBeforeDays over the lifetime), with the same account, and swaps the new certificate in live', async () => {
    const account = await readFile(path.join(stateDir, (await stateFolders(stateDir))[0], 'account.json'), 'utf8');
    const before = keepd.logs.filter(newCertificate).length;
    await storedHoursAgo(stateDir, 2); // a renewal never follows the last within an hour
    await writeFile(path.join(configDir, 'a.json'), JSON.stringify({ ...TEST_BASE, PORT: dataPort, acme: acme({ renewBeforeDays: 100_000 }) }));
    await keepd.waitForLog(() => keepd.logs.filter(newCertificate).length > before, 20_000);
    const renewed = await presented(dataPort, 'keepd.test', root);
    assert.equal(renewed.authorized, true, renewed.authorizationError);
    assert.notEqual(renewed.serialNumber, first.serialNumber);
    first = renewed;
    assert.equal(await readFile(path.join(stateDir, (await stateFolders(stateDir))[0], 'account.json'), 'utf8'), account);
    // Renewed once: the next attempt waits at least an hour, though the certificate is "due" again.
    const acmeHealth = (await health(keepd)).body.components.acme;
    assert.ok(Date.parse(String(acmeHealth?.nextAttemptAt)) - Date.parse(String(acmeHealth?.lastSuccessAt)) >= 3_600_000);
  });

  it('keeps serving the current certificate when a renewal fails, and says so in /health and the metrics', async () => {
    await pebble.stop();
    await storedHoursAgo(stateDir, 2);
    await writeFile(path.join(configDir, 'a.json'), JSON.stringify({ ...TEST_BASE, PORT: dataPort, acme: acme({ renewBeforeDays: 100_001 }) }));
    const report = await eventually(async () => {
      const answer = await health(keepd);
      assert.equal(answer.body.components.acme?.status, 'degraded');
      return answer;
    }, 15_000);
    assert.equal(report.status, 200);
    const component = report.body.components.acme ?? {};
    assert.match((component.lastError as { message: string }).message, /cannot obtain a certificate for keepd\.test, www\.keepd\.test from https:\/\/127\.0\.0\.1:\d+\/dir: the ACME server: cannot reach it \(ECONNREFUSED\)$/);
    assert.equal(component.consecutiveFailures, 1);
    assert.ok(typeof component.notAfter === 'string' && typeof component.nextAttemptAt === 'string');
    assert.equal((await presented(dataPort, 'keepd.test', root)).serialNumber, first.serialNumber);
    const metrics = await request(`http://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] });
    assert.match(metrics.body, /^keepd_acme_failures_total 1$/m);
    assert.match(metrics.body, /^keepd_acme_consecutive_failures 1$/m);
  });

  it('reuses the stored account and certificate after a restart, without contacting the CA (which is down)', async () => {
    await keepd.stop();
    await writeFile(path.join(configDir, 'a.json'), JSON.stringify({ ...TEST_BASE, PORT: dataPort, acme: acme() }));
    keepd = await startKeepd(configDir);
    assert.equal((await presented(dataPort, 'keepd.test', root)).serialNumber, first.serialNumber);
    const component = (await health(keepd)).body.components.acme ?? {};
    assert.equal(component.status, 'ok');
    assert.equal(component.consecutiveFailures, 0);
    assert.ok(!keepd.logs.some((line) => line.msg.startsWith('ACME: ordering')));
    const check = await runCli(['check', '--config-dir', configDir]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, new RegExp(`keepd: acme: certificate: serial ${first.serialNumber}, valid until .*; renewal due `));
    assert.match(check.stderr, /keepd: acme: account: https:\/\/127\.0\.0\.1:\d+\/my-account\//);
  });
});

describe('ACME with http-01: two keepd processes sharing a state folder order once', () => {
  it('one orders (answering on acme.httpPort), the other waits for the lock and takes the stored certificate', async () => {
    const httpPort = await freePort();
    const pebble = await startPebble({ tlsPort: await freePort(), httpPort });
    const stateDir = path.join(await tempDir(), 'state');
    const acme = { directory: pebble.directory, caFile: pebble.caFile, domains: ['shared.keepd.test'], challenge: 'http-01', httpPort, stateDir, listeners: ['data'] };
    const ports = [await freePort(), await freePort()];
    const dirs = await Promise.all(ports.map((PORT) => keepdDir(acme, { PORT })));
    const both = await Promise.all(dirs.map((dir) => startKeepd(dir)));
    try {
      const got = (line: LogLine): boolean => newCertificate(line) || line.msg.startsWith('ACME: using the stored certificate');
      await Promise.all(both.map((keepd) => keepd.waitForLog(got, 20_000)));
      const ordering = both.map((keepd) => keepd.logs.filter((line) => line.msg.startsWith('ACME: ordering')).length);
      assert.deepEqual([...ordering].sort(), [0, 1]);
      const root = await pebble.issuingRoot();
      const served = await Promise.all(ports.map((port) => presented(port, 'shared.keepd.test', root)));
      assert.equal(served[0]?.authorized, true, served[0]?.authorizationError);
      assert.equal(served[0].serialNumber, served[1]?.serialNumber);
    } finally {
      await Promise.all(both.map((keepd) => keepd.stop()));
    }
  });
});

/** A TCP relay to `port` that holds every connection until release(): an order that waits as long as a test needs. */
async function heldRelay(port: number): Promise<{ port: number; release: () => void; close: () => void }> {
  const { createServer, connect: tcp } = await import('node:net');
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((client) => {
    client.pause();
    void released.then(() => {
      const upstream = tcp(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.resume();
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, release, close: () => server.close() };
}

describe('ACME: a reload that changes acme.* during an order', () => {
  it('goes on with the new configuration once the order ends, and the listener gets its certificate', async () => {
    const dataPort = await freePort();
    const pebble = await startPebble({ tlsPort: dataPort, httpPort: await freePort() });
    const relay = await heldRelay(Number(new URL(pebble.directory).port));
    const acme = (email: string) => ({ directory: `https://127.0.0.1:${relay.port}/dir`, caFile: pebble.caFile, domains: ['reload.keepd.test'], email, stateDir: path.join(configDir, '..', 'reload-state'), listeners: ['data'] });
    const configDir = await keepdDir({}, {});
    await writeFile(path.join(configDir, 'a.json'), JSON.stringify({ ...TEST_BASE, PORT: dataPort, acme: acme('first@keepd.test') }));
    const keepd = await startKeepd(configDir);
    try {
      await keepd.waitForLog((line) => line.msg.startsWith('ACME: ordering'));
      // The order waits at the relay for the CA's directory; the configuration changes meanwhile.
      await writeFile(path.join(configDir, 'a.json'), JSON.stringify({ ...TEST_BASE, PORT: dataPort, acme: acme('second@keepd.test') }));
      await keepd.waitForLog((line) => /^configuration generation 2 applied/.test(line.msg));
      assert.equal(keepd.logs.filter(newCertificate).length, 0, 'the order is still held');
      relay.release();
      await keepd.waitForLog((line) => line.msg.startsWith('ACME: using the stored certificate'), 20_000);
      const served = await presented(dataPort, 'reload.keepd.test', await pebble.issuingRoot());
      assert.equal(served.authorized, true, served.authorizationError);
      const component = (await health(keepd)).body.components.acme ?? {};
      assert.equal(component.status, 'ok');
    } finally {
      relay.close();
      await keepd.stop();
    }
  });
});

describe('ACME: a CA that cannot be reached at the first start', () => {
  it('binds the listener, and /health and /health/ready say it waits for its certificate and why', async () => {
    const closed = await freePort();
    const dataPort = await freePort();
    const configDir = await keepdDir({ directory: `https://127.0.0.1:${closed}/dir`, domains: ['down.keepd.test'], stateDir: path.join(await tempDir(), 's'), listeners: ['data'] }, { PORT: dataPort });
    const keepd = await startKeepd(configDir);
    try {
      const report = await eventually(async () => {
        const answer = await health(keepd);
        assert.ok(answer.body.components.acme?.lastError);
        return answer;
      }, 10_000);
      assert.equal(report.status, 503);
      assert.equal(report.body.components.acme?.status, 'failing');
      assert.deepEqual(report.body.components.listeners?.data, { status: 'failing', scheme: 'https', port: dataPort, reason: 'waiting for its certificate from ACME (components.acme)' });
      const ready = await request(`http://127.0.0.1:${keepd.ports.health ?? 0}/health/ready`, { auth: [...USERS.health] });
      assert.equal(ready.status, 503);
      assert.match(ready.body, /the data listener waits for its certificate from ACME/);
      // No certificate: a handshake fails rather than presenting something else.
      await assert.rejects(presented(dataPort, 'down.keepd.test', ''));
    } finally {
      await keepd.stop();
    }
  });
});

/** Makes the stored certificate look written `hours` ago (what the renewal spacing reads). */
async function storedHoursAgo(stateDir: string, hours: number): Promise<void> {
  const [folder] = await stateFolders(stateDir);
  const { readdir } = await import('node:fs/promises');
  const when = new Date(Date.now() - hours * 3_600_000);
  for (const name of await readdir(path.join(stateDir, folder), { withFileTypes: true })) {
    if (name.isDirectory()) await utimes(path.join(stateDir, folder, name.name, 'certificate.pem'), when, when);
  }
}

async function stateFolders(stateDir: string): Promise<[string]> {
  const { readdir } = await import('node:fs/promises');
  const entries = await readdir(stateDir);
  assert.equal(entries.length, 1, `one folder per ACME directory: ${entries.join(', ')}`);
  return [entries[0] ?? ''];
}

describe('ACME: keepd reload and an ACME management listener', () => {
  it('speaks TLS (asking for the first ACME name), never plain http with the password', async () => {
    const { createServer } = await import('node:net');
    let first: Buffer | undefined;
    const server = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        first = chunk;
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const dir = await tempDir({ 'a.json': { MANAGMENTPORT: port, HOST: '127.0.0.1', acme: { domains: ['admin.keepd.test'], listeners: ['management'], stateDir: path.join(await tempDir(), 's') } } });
      const run = await runCli(['reload', '--config-dir', dir, '--user', 'admin'], { env: { KEEPD_PASSWORD: 'secret-pw-1' } });
      assert.notEqual(run.code, 0);
      assert.equal(first?.[0], 0x16, 'a TLS handshake record');
      assert.ok(first.includes(Buffer.from('admin.keepd.test')), 'SNI names the ACME domain');
      assert.ok(!first.includes(Buffer.from('secret-pw-1')) && !first.includes(Buffer.from(Buffer.from('admin:secret-pw-1').toString('base64'))));
    } finally {
      server.close();
    }
  });
});
