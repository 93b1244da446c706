import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createSecret } from '../src/accounts/secret.js';
import { eventually } from './helpers/eventually.js';
import { request, type Response } from './helpers/http-client.js';
import { failedStart, startKeepd, type LogLine } from './helpers/keepd-process.js';
import { PUBLISHED } from './helpers/published.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

async function daemonDir(extra: object): Promise<string> {
  return tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'zz.json': extra });
}

async function metric(port: number | undefined, pattern: RegExp): Promise<number> {
  const text = (await request(`https://127.0.0.1:${port ?? 0}/metrics`, { auth: [...USERS.metrics], localAddress: '127.0.0.250' })).body;
  return Number(pattern.exec(text)?.[1] ?? 0);
}

describe('password guessing is throttled per client address and listener', () => {
  it('answers 429 with Retry-After after maxFailures, without verifying; other clients and listeners go on; the window ends it', async () => {
    const keepd = await startKeepd(await daemonDir({ loginRateLimit: { maxFailures: 3, windowSeconds: 2, exemptLoopback: false } }));
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    try {
      const attacker = { localAddress: '127.0.0.2' };
      for (let i = 0; i < 3; i++) assert.equal((await request(health, { ...attacker, auth: ['probe', `guess-${i}`] })).status, 401);
      const unauthenticatedBefore = await metric(keepd.ports.metrics, /^keep_unauthenticated_request_count_total\{listener="health",reason="wrong_password"\} (\d+)/m);
      const blocked = await request(health, { ...attacker, auth: [...USERS.health] });
      assert.equal(blocked.status, 429, 'even the right password waits out the window');
      const retryAfter = Number(blocked.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 2, String(retryAfter));
      assert.equal(blocked.headers['www-authenticate'], undefined);
      assert.equal((blocked.json() as { error: string }).error, 'Too Many Requests');
      assert.equal((await request(health, { ...attacker, auth: ['probe', 'guess-x'] })).status, 429);
      assert.equal(
        await metric(keepd.ports.metrics, /^keep_unauthenticated_request_count_total\{listener="health",reason="wrong_password"\} (\d+)/m),
        unauthenticatedBefore,
        'no password was verified for the blocked client',
      );
      assert.ok((await metric(keepd.ports.metrics, /^keepd_login_throttled_requests_total\{listener="health"\} (\d+)/m)) >= 2);
      assert.equal(await metric(keepd.ports.metrics, /^keepd_login_throttled_clients\{listener="health"\} (\d+)/m), 1);

      assert.equal((await request(health, { localAddress: '127.0.0.3', auth: [...USERS.health] })).status, 200, 'another client is not affected');
      const management = `https://127.0.0.1:${keepd.ports.management ?? 0}/info`;
      assert.equal((await request(management, { ...attacker, auth: [...USERS.management] })).status, 200, 'another listener is not affected');

      await eventually(async () => assert.equal((await request(health, { ...attacker, auth: [...USERS.health] })).status, 200), 5000, 250);
    } finally {
      await keepd.stop();
    }
  });

  it('counts guesses still being verified: a burst of parallel guesses gets at most maxFailures verified', async () => {
    const keepd = await startKeepd(await daemonDir({ loginRateLimit: { maxFailures: 3, windowSeconds: 60, exemptLoopback: false } }));
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    try {
      const before = await metric(keepd.ports.metrics, /^keep_unauthenticated_request_count_total\{listener="health",reason="wrong_password"\} (\d+)/m);
      const statuses = (await Promise.all(Array.from({ length: 20 }, (_, i) => request(health, { localAddress: '127.0.0.6', auth: ['probe', `parallel-${i}`] })))).map((r) => r.status);
      assert.ok(statuses.filter((s) => s === 401).length <= 3, statuses.join());
      assert.equal(statuses.filter((s) => s === 429).length + statuses.filter((s) => s === 401).length, 20);
      const after = await metric(keepd.ports.metrics, /^keep_unauthenticated_request_count_total\{listener="health",reason="wrong_password"\} (\d+)/m);
      assert.ok(after - before <= 3, `${after - before} passwords verified`);
    } finally {
      await keepd.stop();
    }
  });

  it('does not let a client’s own valid account reset its failures on another', async () => {
    const keepd = await startKeepd(await daemonDir({ loginRateLimit: { maxFailures: 3, windowSeconds: 60, exemptLoopback: false } }));
    const url = (route: string, listener: 'health') => `https://127.0.0.1:${keepd.ports[listener] ?? 0}${route}`;
    const client = { localAddress: '127.0.0.7' };
    try {
      // Two guesses at another account, then a login with the client's own valid account...
      for (let i = 0; i < 2; i++) assert.equal((await request(url('/health', 'health'), { ...client, auth: ['retired', `guess-${i}`] })).status, 401);
      assert.equal((await request(url('/health', 'health'), { ...client, auth: [...USERS.health] })).status, 200);
      // ...does not clear them: the third guess reaches the limit.
      assert.equal((await request(url('/health', 'health'), { ...client, auth: ['retired', 'guess-2'] })).status, 401);
      assert.equal((await request(url('/health', 'health'), { ...client, auth: [...USERS.health] })).status, 429, 'blocked now');
    } finally {
      await keepd.stop();
    }
  });

  it('forgets a client’s failures when it logs in', async () => {
    const keepd = await startKeepd(await daemonDir({ loginRateLimit: { maxFailures: 3, windowSeconds: 60, exemptLoopback: false } }));
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    const client = { localAddress: '127.0.0.4' };
    try {
      for (const auth of [['probe', 'x'], ['probe', 'y'], [...USERS.health], ['probe', 'z'], ['probe', 'w']] as [string, string][]) await request(health, { ...client, auth });
      assert.equal((await request(health, { ...client, auth: [...USERS.health] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });

  it('can exempt loopback clients by configuration', async () => {
    const keepd = await startKeepd(await daemonDir({ loginRateLimit: { maxFailures: 2, windowSeconds: 60, exemptLoopback: true } }));
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    try {
      for (let i = 0; i < 4; i++) assert.equal((await request(health, { auth: ['probe', `guess-${i}`] })).status, 401);
      assert.equal((await request(health, { auth: [...USERS.health] })).status, 200);
    } finally {
      await keepd.stop();
    }
  });
});

describe('password verification runs with bounded concurrency', () => {
  it('a flood of new credentials gets quick 503s beyond the queue, while a cached credential never waits', async () => {
    const keepd = await startKeepd(await daemonDir({ passwordVerification: { concurrency: 1, queueLimit: 3 } }));
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
    // Connections opened (and credentials cached) before the flood: during it, these requests go
    // straight to keepd instead of queueing for a TLS handshake behind forty others.
    const cachedClient = new Agent({ keepAlive: true, maxSockets: 1 });
    const scraper = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrape = async (): Promise<string> => (await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics], agent: scraper })).body;
    const gauge = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 0);
    try {
      assert.equal((await request(health, { auth: [...USERS.health], agent: cachedClient })).status, 200, 'now cached');
      await scrape();
      const finished: string[] = [];
      const flood = Array.from({ length: 40 }, (_, i) =>
        request(health, { auth: [`flood-${i}`, 'x'] }).then((response: Response) => {
          finished.push(`flood ${response.status}`);
          return response;
        }),
      );
      // Until the queue has been full (some were refused for it) and new credentials still wait in it.
      for (;;) {
        const text = await scrape();
        const refused = gauge(text, /^keepd_password_verification_overload_total\{listener="health"\} (\d+)/m);
        if (refused > 0 && gauge(text, /^keepd_password_verifications_queued (\d+)/m) > 0) break;
        if (finished.length === flood.length) assert.fail(`the flood was over before its queue was seen: ${finished.join(', ')}`);
      }
      const cached = await request(health, { auth: [...USERS.health], agent: cachedClient });
      finished.push('cached');
      assert.equal(cached.status, 200);
      const responses = await Promise.all(flood);
      const statuses = responses.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 401 || s === 503), statuses.join());
      const overloaded = responses.filter((r) => r.status === 503);
      assert.ok(overloaded.length > 0, 'some were refused');
      assert.equal(overloaded[0]?.headers['retry-after'], '1');
      assert.ok(finished.indexOf('cached') < finished.lastIndexOf('flood 401'), `the cached request finished before the queue drained: ${finished.join(', ')}`);
      assert.ok((await metric(keepd.ports.metrics, /^keepd_password_verification_overload_total\{listener="health"\} (\d+)/m)) === overloaded.length);
      assert.equal((await request(health, { auth: [...USERS.health] })).status, 200, 'and keepd is fine');
    } finally {
      cachedClient.destroy();
      scraper.destroy();
      await keepd.stop();
    }
  });
});

describe('public example credentials', () => {
  async function publicDir(extra: object = {}): Promise<string> {
    const users = structuredClone(await functionalUsers()) as { identity: Record<string, Record<string, unknown>> };
    users.identity.managementAPI = { ...users.identity.managementAPI, 'Doctor Notes': { active: true, secret: PUBLISHED.password } };
    users.identity.metricsAPI = { ...users.identity.metricsAPI, metrics: { active: true, secret: await createSecret('metrics') } };
    return tempDir({ 'functionalUsers.json': users, 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'zz.json': extra });
  }

  it('are found on every load, warned once per account, and shown in /health, /info and the metrics', async () => {
    const dir = await publicDir({ watch: { enabled: false } });
    const keepd = await startKeepd(dir);
    try {
      interface HealthBody {
        status: string;
        components: { config: { generation: number }; accounts: { status: string; withPublicPassword: number; scan: { state: 'running' | 'done'; checked: number; total: number } } };
      }
      const health = async () => (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).json() as HealthBody;
      /** /health once the background scan of that generation is over (PBKDF2 runs: slow on a busy machine). */
      const scanned = (generation: number): Promise<HealthBody> =>
        eventually(async () => {
          const seen = await health();
          assert.equal(seen.components.config.generation, generation);
          assert.equal(seen.components.accounts.scan.state, 'done');
          return seen;
        }, 60_000, 50);
      const isWarning = (line: LogLine): boolean => line.level === 40 && line.msg.includes('has a password published');
      const warned = (): string[][] => keepd.logs.filter(isWarning).map((w) => [String(w.listener), String(w.realm), String(w.account)]).sort();
      const expected = [['management', 'managementAPI', 'Doctor Notes'], ['metrics', 'metricsAPI', 'metrics']];

      const body = await scanned(1);
      assert.equal(body.components.accounts.withPublicPassword, 2);
      assert.equal(body.components.accounts.scan.checked, body.components.accounts.scan.total);
      assert.equal(body.status, 'degraded');
      assert.equal(body.components.accounts.status, 'degraded');
      assert.ok(!JSON.stringify(body).includes('Doctor Notes'), 'the health realm learns counts, not names');
      const info = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: ['Doctor Notes', 'password'] })).json() as { publicCredentials: object[] };
      assert.deepEqual(info.publicCredentials, [
        { listener: 'management', realm: 'managementAPI', account: 'Doctor Notes' },
        { listener: 'metrics', realm: 'metricsAPI', account: 'metrics' },
      ]);
      const text = (await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: ['metrics', 'metrics'] })).body;
      assert.match(text, /^keepd_accounts_with_public_password\{realm="managementAPI"\} 1$/m);
      assert.match(text, /^keepd_accounts_with_public_password\{realm="healthcheckAPI"\} 0$/m);
      // keepd writes its log synchronously, the warnings before the scan says done: both are in.
      await keepd.waitForLog((line) => isWarning(line) && line.account === 'metrics');
      await keepd.waitForLog((line) => isWarning(line) && line.account === 'Doctor Notes');
      assert.deepEqual(warned(), expected, 'warned on the first load');

      // Another load (a changed file): scanned again, not warned again.
      await writeFile(path.join(dir, 'zz.json'), JSON.stringify({ watch: { enabled: false }, dance: 'tango' }));
      const restart = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/restart`, { method: 'POST', auth: ['Doctor Notes', 'password'] });
      const outcome = restart.json() as { status: string; generation: number };
      assert.deepEqual([outcome.status, outcome.generation], ['applied', 2]);
      const again = await scanned(2);
      assert.equal(again.components.accounts.withPublicPassword, 2, 'found again by the second scan');
      // A warning of the second scan would be on keepd's stdout before the answer that says it is
      // done; let this process read what is already in the pipe before counting.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warned(), expected, 'once per account');
      assert.ok(keepd.logs.filter(isWarning).every((w) => !w.msg.includes(PUBLISHED.password.slice(0, 20))));
    } finally {
      await keepd.stop();
    }
  });

  it('stop keepd from starting with --strict or "strict": true', async () => {
    const flag = await startKeepd(await publicDir(), { expect: 0, args: ['--strict'] });
    assert.equal(await flag.exited, 2);
    assert.match(flag.stderr(), /^keepd: the configuration in .* has 2 problem\(s\):\n {2}- strict: account "Doctor Notes" of identity\.managementAPI \(management listener\) has a password published/);
    assert.match(flag.stderr(), /account "metrics" of identity\.metricsAPI/);
    const configured = await failedStart(await publicDir({ strict: true }));
    assert.equal(configured.code, 2);
  });
});
