import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';
import { certificateFor } from './helpers/dated-certificate.js';
import { functionalUsers, TEST_BASE, tlsFixture, USERS } from './helpers/test-config.js';

/** The subject CN the listener presents to a client asking for `servername` (none: no SNI), seen by openssl s_client. */
function presented(port: number, servername: string | undefined): string {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(servername === undefined ? ['-noservername'] : ['-servername', servername])];
  const run = spawnSync('openssl', args, { input: '', encoding: 'utf8', timeout: 10_000 });
  const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(run.stdout)?.[0];
  assert.ok(certificate, `no certificate from openssl s_client ${args.join(' ')}: ${run.stderr}`);
  const subject = execFileSync('openssl', ['x509', '-noout', '-subject'], { input: certificate, encoding: 'utf8' });
  return /CN\s*=\s*(.+)$/m.exec(subject)?.[1]?.trim() ?? subject;
}

describe('SNI: several certificates on one TLS listener', () => {
  let keepd: KeepdProcess;
  let dir: string;
  const port = (): number => keepd.ports.data ?? 0;

  before(async () => {
    dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE });
    // A certificate with a wildcard name of its own (no hostnames in the configuration: its SAN counts).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=keepd wildcard', '-addext', 'subjectAltName=DNS:*.wild.example', '-keyout', path.join(dir, 'wild.key.pem'), '-out', path.join(dir, 'wild.cert.pem')], { stdio: 'ignore' });
    await copyFile(tlsFixture('other.key.pem'), path.join(dir, 'keep.key.pem'));
    await copyFile(tlsFixture('other.cert.pem'), path.join(dir, 'keep.cert.pem'));
    await writeFile(
      path.join(dir, 'tls.json'),
      JSON.stringify({
        TLSType: 'pem',
        TLSFile: tlsFixture('server.key.pem'),
        PEMCert: tlsFixture('server.chain.pem'),
        certificates: [
          { TLSType: 'pem', TLSFile: 'keep.key.pem', PEMCert: 'keep.cert.pem', hostnames: ['keep.example.com', 'KEEP2.example.com'] },
          { TLSType: 'pem', TLSFile: 'wild.key.pem', PEMCert: 'wild.cert.pem' },
        ],
      }),
    );
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('the handshake picks by the name asked for: exact (any case), wildcard from the SAN, else the main certificate', () => {
    assert.equal(presented(port(), 'keep.example.com'), 'keepd other server');
    assert.equal(presented(port(), 'keep2.EXAMPLE.com'), 'keepd other server');
    assert.equal(presented(port(), 'keep.example.com.'), 'keepd other server', 'a fully qualified name with its root dot');
    assert.equal(presented(port(), 'a.wild.example'), 'keepd wildcard');
    assert.equal(presented(port(), 'a.b.wild.example'), 'keepd test server', 'a wildcard covers one label');
    assert.equal(presented(port(), 'localhost'), 'keepd test server');
    assert.equal(presented(port(), undefined), 'keepd test server');
  });

  it('every listener serving the top-level TLS has them; /health and /info list them with expiry', async () => {
    assert.equal(presented(keepd.ports.health ?? 0, 'keep.example.com'), 'keepd other server');
    const health = (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).json() as { components: { tls: Record<string, { sni?: { hostnames: string[]; subject: string; daysUntilExpiry: number; status: string }[] }> } };
    const sni = health.components.tls.data?.sni ?? [];
    assert.deepEqual(sni.map((entry) => [entry.hostnames, entry.subject, entry.status]), [
      [['keep.example.com', 'keep2.example.com'], 'CN=keepd other server', 'ok'],
      [['*.wild.example'], 'CN=keepd wildcard', 'ok'],
    ]);
    const info = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: [...USERS.management] })).json() as { listeners: Record<string, { sni: { hostnames: string[]; notAfter: string }[] }> };
    assert.equal(info.listeners.metrics?.sni.length, 2);
  });

  it('a renewal of one certificate is swapped in live; the others are untouched', async () => {
    const mainSerial = presented(port(), 'localhost');
    // As certbot does: new files written beside, then renamed over the old ones.
    await copyFile(tlsFixture('renewed.key.pem'), path.join(dir, 'keep.key.pem.new'));
    await copyFile(tlsFixture('renewed.cert.pem'), path.join(dir, 'keep.cert.pem.new'));
    await rename(path.join(dir, 'keep.key.pem.new'), path.join(dir, 'keep.key.pem'));
    await rename(path.join(dir, 'keep.cert.pem.new'), path.join(dir, 'keep.cert.pem'));
    const applied = await keepd.waitForLog((line) => /configuration generation \d+ applied/.test(line.msg) && JSON.stringify(line.changes).includes('SNI certificates'));
    assert.ok(applied);
    assert.equal(presented(port(), 'keep.example.com'), 'keepd test server (renewed)');
    assert.equal(presented(port(), 'x.wild.example'), 'keepd wildcard');
    assert.equal(presented(port(), 'localhost'), mainSerial);
  });

  it('a renewal to an expired certificate is refused: the valid one keeps serving its names', async () => {
    const before = presented(port(), 'keep.example.com');
    const expired = await certificateFor('keepd sni expired', '20200101000000Z', '20210101000000Z');
    await copyFile(tlsFixture('server.key.pem'), path.join(dir, 'keep.key.pem.new'));
    await copyFile(expired, path.join(dir, 'keep.cert.pem.new'));
    await rename(path.join(dir, 'keep.key.pem.new'), path.join(dir, 'keep.key.pem'));
    await rename(path.join(dir, 'keep.cert.pem.new'), path.join(dir, 'keep.cert.pem'));
    await keepd.waitForLog((line) => /configuration refused/.test(line.msg) && /keep\.example\.com.*expired on 2021-01-01/.test(line.msg));
    assert.equal(presented(port(), 'keep.example.com'), before);
  });
});

describe('SNI: configuration problems', () => {
  it('a missing file, a PEM without its certificate, a bad name and a certificate without DNS names are named', async () => {
    const noDns = await tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=no dns', '-addext', 'subjectAltName=IP:192.0.2.1', '-keyout', path.join(noDns, 'k.pem'), '-out', path.join(noDns, 'c.pem')], { stdio: 'ignore' });
    const dir = await tempDir({
      'tls.json': {
        TLSType: 'pem',
        TLSFile: tlsFixture('server.key.pem'),
        PEMCert: tlsFixture('server.chain.pem'),
        certificates: [{ TLSType: 'pem', TLSFile: 'missing.pem', PEMCert: 'missing.cert.pem' }, { TLSType: 'pem', TLSFile: 'x.pem' }, { TLSType: 'pem', TLSFile: 'x.pem', PEMCert: 'y.pem', hostnames: ['bad name!'] }],
      },
    });
    const first = await runCli(['check', '--config-dir', dir]);
    assert.equal(first.code, 2);
    assert.match(first.stderr, /certificates.*1.*PEMCert.*required when TLSType is "pem"/);
    assert.match(first.stderr, /certificates.*2.*hostnames.*DNS name/);
    const second = await tempDir({ 'tls.json': { TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: tlsFixture('server.chain.pem'), certificates: [{ TLSType: 'pem', TLSFile: 'missing.pem', PEMCert: 'missing.cert.pem' }, { TLSType: 'pem', TLSFile: path.join(noDns, 'k.pem'), PEMCert: path.join(noDns, 'c.pem') }] } });
    const load = await runCli(['check', '--config-dir', second]);
    assert.equal(load.code, 2);
    assert.match(load.stderr, /certificates\[0\].*missing\.pem/s);
    assert.match(load.stderr, /certificates\[1\] has no DNS name in its subjectAltName: give it "hostnames"/);
    assert.ok((await readFile(path.join(second, 'tls.json'), 'utf8')).length > 0);
  });

  it('certificates where they would be ignored, IP literals, and names the certificate does not hold are said', async () => {
    const entry = { TLSType: 'pem', TLSFile: tlsFixture('other.key.pem'), PEMCert: tlsFixture('other.cert.pem') };
    const ignored = await tempDir({ 'a.json': { TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: tlsFixture('server.chain.pem'), listeners: { metrics: { certificates: [entry] } } } });
    const block = await runCli(['check', '--config-dir', ignored]);
    assert.equal(block.code, 2);
    assert.match(block.stderr, /listeners\.metrics\.certificates.*only with the block's own TLS keys/);
    const ip = await tempDir({ 'a.json': { TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: tlsFixture('server.chain.pem'), certificates: [{ ...entry, hostnames: ['192.0.2.1'] }] } });
    assert.match((await runCli(['check', '--config-dir', ip])).stderr, /not an IP address/);
    const foreign = await tempDir({ 'a.json': { TLSType: 'pem', TLSFile: tlsFixture('server.key.pem'), PEMCert: tlsFixture('server.chain.pem'), certificates: [{ ...entry, hostnames: ['keep.example.com'] }] } });
    const warned = await runCli(['check', '--config-dir', foreign]);
    assert.equal(warned.code, 0);
    assert.match(warned.stderr, /certificates\[0\] is presented for keep\.example\.com, which its certificate \(CN=keepd other server\) does not name/);
  });
});

describe('SNI: certificates with different key types', () => {
  it('warns that a TLS 1.3 client asking for the RSA name of an ECDSA listener gets the ECDSA certificate (as it does)', async () => {
    const ec = await tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=main', '-addext', 'subjectAltName=DNS:main.keepd.test', '-keyout', path.join(ec, 'k.pem'), '-out', path.join(ec, 'c.pem')], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=rsa', '-addext', 'subjectAltName=DNS:rsa.keepd.test', '-keyout', path.join(ec, 'rk.pem'), '-out', path.join(ec, 'rc.pem')], { stdio: 'ignore' });
    const dir = await tempDir({
      'a.json': { ...TEST_BASE, TLSType: 'pem', TLSFile: path.join(ec, 'k.pem'), PEMCert: path.join(ec, 'c.pem'), certificates: [{ TLSType: 'pem', TLSFile: path.join(ec, 'rk.pem'), PEMCert: path.join(ec, 'rc.pem') }] },
      'users.json': await functionalUsers(),
    });
    const check = await runCli(['check', '--config-dir', dir]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, 'keepd: warning: TLS of the data, health, management and metrics listeners: the certificate for rsa.keepd.test has an RSA key and the main certificate an ECDSA key: for those names Node offers both, and clients get whichever their signature preferences favour (most TLS 1.3 clients: ECDSA). Give them keys of the same type\n');
    const keepd = await startKeepd(dir);
    try {
      const { connect } = await import('node:tls');
      const socket = connect({ host: '127.0.0.1', port: keepd.ports.health ?? 0, servername: 'rsa.keepd.test', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.equal(socket.getPeerCertificate().subject.CN, 'main');
      socket.destroy();
    } finally {
      await keepd.stop();
    }
  });
});
