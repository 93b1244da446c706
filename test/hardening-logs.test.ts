import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { request } from './helpers/http-client.js';
import { rawRequest, requestWithHeader } from './helpers/raw-request.js';
import { startKeepd } from './helpers/keepd-process.js';
import { PUBLISHED } from './helpers/published.js';
import { functionalUsers, INACTIVE_PASSWORD, TEST_BASE, TLS_CONFIGS, tlsFixture, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const SHUTDOWN_KEY = 'log-test-shutdown-key';
const PLATFORM_PASSWORD = 'platform-health-secret-value';

const basic = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');
/** A string as the decimal byte list JSON gives a Buffer (`[65,117,...]`): how raw packets leaked. */
const asBytes = (text: string): string => [...Buffer.from(text, 'latin1')].join(',');

describe('logs never contain credentials', () => {
  it('at LOG_LEVEL trace, through logins, salting, failed reloads and shutdown, no secret reaches stdout or stderr', async () => {
    const users = await functionalUsers();
    const dir = await tempDir({
      'functionalUsers.json': users,
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pfx,
      'keys.json': { shutdownkey: await createSecret(SHUTDOWN_KEY), LOG_LEVEL: 'trace', watch: { enabled: false } },
    });
    const keepd = await startKeepd(dir, { env: { HEALTHCHECK_USER: 'platform', HEALTHCHECK_PASSWORD: PLATFORM_PASSWORD } });
    const url = (listener: 'data' | 'health' | 'management' | 'metrics', route: string) => `https://127.0.0.1:${keepd.ports[listener] ?? 0}${route}`;
    const admin = [...USERS.management] as [string, string];

    // Every kind of login, right and wrong, on every listener.
    for (const [listener, route, account] of [['data', '/api/whoami', USERS.data], ['health', '/health', USERS.health], ['management', '/info', USERS.management], ['metrics', '/metrics', USERS.metrics]] as const) {
      await request(url(listener, route), { auth: [...account] });
      await request(url(listener, route), { auth: [account[0], `${account[1]}-wrong`] });
      await request(url(listener, route), { auth: ['retired', INACTIVE_PASSWORD] });
    }
    await request(url('health', '/health'), { auth: ['platform', PLATFORM_PASSWORD] });
    await request(url('management', '/encode'), { method: 'POST', auth: admin, body: { shutdownkey: 'encode-me-secret' } });
    await request(url('management', '/decode'), { method: 'POST', auth: admin, body: { shutdownkey: PUBLISHED.password, guess: 'decode-guess-secret' } });
    await request(url('management', '/shutdown'), { method: 'POST', auth: admin, body: { shutdownkey: 'wrong-shutdown-secret' } });
    // Sessions, keys and tokens outside Authorization: cookies, API keys, a query string.
    await request(url('health', '/health?password=query-pw-secret&token=query-token-secret'), { auth: [...USERS.health], headers: { cookie: 'LtpaToken=cookie-ltpa-secret', 'x-api-key': 'api-key-secret' } });
    // Refused reloads: a wrong TLS password, a secret in the wrong place, a malformed secret.
    await writeFile(path.join(dir, 'tls.json'), JSON.stringify({ ...TLS_CONFIGS.pfx, TLSPassword: 'wrong-tls-secret' }));
    await writeFile(path.join(dir, 'zz-bad.json'), JSON.stringify({ shutdownkey: 'plaintext-shutdown-secret', identity: { managementAPI: { x: { active: true, secret: `${PUBLISHED.metrics}0` } } } }));
    assert.equal((await request(url('management', '/reload'), { method: 'POST', auth: admin })).status, 422);
    await writeFile(path.join(dir, 'tls.json'), JSON.stringify(TLS_CONFIGS.pfx));
    await writeFile(path.join(dir, 'zz-bad.json'), '{}');
    assert.equal((await request(url('management', '/reload'), { method: 'POST', auth: admin })).status, 200);
    // Malformed requests carrying credentials: Node's parser refuses them, and its error carries
    // the raw bytes it read (rawPacket), Authorization header included.
    const authorization = `Authorization: Basic ${basic(...USERS.health)}`;
    const malformed = [
      requestWithHeader('/health', Buffer.from(`${authorization}\r\nX-Nul: a\u0000b`, 'latin1')),
      requestWithHeader('/health', Buffer.from(`${authorization}\r\nX-Folded: a\r\n  folded`, 'latin1')),
      requestWithHeader('/health', Buffer.from(`${authorization}\r\nX-Big: ${'x'.repeat(20_000)}`, 'latin1')),
    ];
    for (const bytes of malformed) assert.ok([400, 431].includes((await rawRequest(keepd.ports.health ?? 0, bytes)).status ?? 0));
    await keepd.waitForLog((line) => /^client (error|header_overflow)/.test(line.msg));
    await request(url('management', '/shutdown'), { method: 'POST', auth: admin, body: { shutdownkey: SHUTDOWN_KEY } });
    assert.equal(await keepd.exited, 0);
    await keepd.waitForLog((line) => line.msg === 'stopped');

    const output = keepd.stdout() + keepd.stderr();
    assert.ok(keepd.logs.filter((line) => line.msg === 'request received').length > 15, 'every request was logged with its headers');
    assert.ok(output.includes('"authorization":"[redacted]"'), 'the header is there, censored');
    const salted = (JSON.stringify(users).match(/[0-9A-F]{64}:[0-9A-F]{128}/g) ?? []).flatMap((s) => s.split(':'));
    const keyLines = readFileSync(tlsFixture('server.key.pem'), 'utf8').split('\n').filter((line) => line.length > 40);
    const secrets = [
      ...Object.values(USERS).map(([, password]) => password),
      ...Object.values(USERS).map(([user, password]) => basic(user, password)),
      INACTIVE_PASSWORD,
      PLATFORM_PASSWORD,
      SHUTDOWN_KEY,
      'changeit',
      'encode-me-secret',
      'decode-guess-secret',
      'wrong-shutdown-secret',
      'wrong-tls-secret',
      'plaintext-shutdown-secret',
      'query-pw-secret',
      'query-token-secret',
      'cookie-ltpa-secret',
      'api-key-secret',
      ...PUBLISHED.metrics.split(':'),
      ...PUBLISHED.password.split(':'),
      ...salted,
      ...keyLines,
    ];
    for (const secret of secrets) {
      assert.ok(!output.includes(secret), `the log holds a secret: ${secret.slice(0, 6)}…`);
      if (secret.length >= 8) assert.ok(!output.includes(asBytes(secret)), `the log holds a secret as bytes: ${secret.slice(0, 6)}…`);
    }
    assert.doesNotMatch(output, /rawPacket/);
    assert.doesNotMatch(output.replaceAll('"authorization":"[redacted]"', ''), /authorization/i);
  });
});
