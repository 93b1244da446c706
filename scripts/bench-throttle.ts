/**
 * The login throttle's Redis store (issue 16) against the memory store, in one run: what a failed
 * login costs more when replicas share their counts, and proof that a successful login served from
 * keepd's verification cache sends Redis nothing. Two keepd (store "memory" and store Redis) and
 * one redis-server of its own (Debian's, on a free port); plain HTTP on the health listener, so
 * that TLS adds nothing to either side.
 *
 *   npm run bench:throttle -- [--runs 10] [--save]      (part of `npm run bench`; --save writes docs/benchmarks.md)
 */
import { Agent, request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RedisThrottleStore } from '../src/accounts/redis-throttle-store.js';
import { LoginThrottle } from '../src/accounts/login-throttle.js';
import { createSecret } from '../src/accounts/secret.js';
import { REDIS_STORE_DEFAULTS } from '../src/config/defaults.js';
import { has } from './lib/measure-tools.js';
import { RedisServer, REDIS_SERVER } from './lib/redis-server.js';
import { saveSection } from './lib/report-section.js';
import { HEAD, SECTION_MARKER } from './lib/throttle-report.js';
import { REPO_ROOT, spawnKeepd, summarize, type RunningKeepd } from './lib/spawn-keepd.js';

const { values: options } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, runs: { type: 'string', default: '10' }, save: { type: 'boolean', default: false } }, strict: false });
const ROUNDS = Math.max(2, Number(options.runs) * 2);
const PER_ROUND = 20;
const CACHED = 2000;
const USER = 'bench';
const PASSWORD = 'bench-password-1';
const log = (text: string): void => void process.stderr.write(`${text}\n`);

if (!has(REDIS_SERVER)) {
  log(`bench-throttle: ${REDIS_SERVER} is missing; install it with: apt-get install -y redis-server`);
  process.exit(2);
}

const work = await mkdtemp(path.join(tmpdir(), 'keepd-bench-throttle-'));
const redis = await RedisServer.start({ password: 'bench-redis-password' });
const running: RunningKeepd[] = [];

async function keepd(name: string, store: unknown): Promise<RunningKeepd> {
  const dir = path.join(work, name);
  await mkdir(dir);
  const config = {
    HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0, LOG_LEVEL: 'info',
    // Never blocks: every failed login is counted and verified, the cost measured is the counting's.
    loginRateLimit: { maxFailures: 100_000, windowSeconds: 600, exemptLoopback: false, store },
    identity: { healthcheckAPI: { [USER]: { active: true, secret: await createSecret(PASSWORD) } } },
  };
  await writeFile(path.join(dir, 'bench.json'), JSON.stringify(config));
  const started = await spawnKeepd(dir);
  running.push(started);
  return started;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const basic = (password: string): string => `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;

/** One GET /health; resolves with its status and client-side time (ms). */
function login(port: number, password: string, localAddress: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', agent, localAddress, headers: { authorization: basic(password) } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.once('error', reject);
    req.end();
  });
}

try {
  const memory = await keepd('memory', 'memory');
  const shared = await keepd('redis', { redis: { url: redis.url } });
  const ports = { memory: memory.ports.health ?? 0, redis: shared.ports.health ?? 0 };
  // The Redis store connects in the background: wait until a failed login is counted there.
  for (let deadline = Date.now() + 10_000; ; ) {
    await login(ports.redis, 'warm-up', '127.0.0.200');
    if ((await redis.command('EXISTS', 'keepd:throttle:{health:127.0.0.200}:f')) === ':1') break;
    if (Date.now() > deadline) throw new Error('keepd never counted in Redis');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  // 1. Failed logins, interleaved (memory, Redis, memory, ...) so that both see the same machine.
  log(`failed logins: ${ROUNDS} rounds of ${PER_ROUND} per store`);
  const failed = { memory: [] as number[], redis: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const store of ['memory', 'redis'] as const) {
      for (let i = 0; i < PER_ROUND; i++) {
        const answer = await login(ports[store], `wrong-${round}-${i}`, `127.0.0.${10 + (i % 10)}`);
        if (answer.status !== 401) throw new Error(`a failed login on the ${store} store got ${answer.status}`);
        if (round > 0) failed[store].push(answer.ms); // the first round warms up
      }
    }
  }

  // 2. The throttle's own work per failed login, in this process: begin + finish against the same Redis.
  log('throttle alone: begin() + finish() per failed login, in-process');
  const settings = { enabled: true, maxFailures: 100_000, windowSeconds: 600, exemptLoopback: false };
  const store = new RedisThrottleStore({ url: redis.url, ...REDIS_STORE_DEFAULTS }, { error: () => undefined, changed: () => undefined });
  while (!store.usable) await new Promise((resolve) => setTimeout(resolve, 20));
  const scriptMs: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const started = performance.now();
    await store.begin('bench', `198.51.100.${i % 200}`, settings.maxFailures, 600_000, `bench-${i}`);
    await store.finish('bench', `198.51.100.${i % 200}`, USER, 'failure', `bench-${i}`, settings.maxFailures, 600_000);
    scriptMs.push(performance.now() - started);
  }
  store.close();
  const local = new LoginThrottle(() => settings);
  const localStarted = performance.now();
  for (let i = 0; i < 100_000; i++) local.finish(`198.51.100.${i % 200}`, USER, 'failure', local.begin(`198.51.100.${i % 200}`));
  const localUs = ((performance.now() - localStarted) * 1000) / 100_000;

  // 3. Successful logins from the verification cache: Redis must see no command at all.
  log(`cached logins: ${CACHED} per store, 8 at a time`);
  const cachedRun = async (port: number): Promise<number> => {
    if ((await login(port, PASSWORD, '127.0.0.50')).status !== 200) throw new Error('the bench account was refused');
    const started = performance.now();
    for (let done = 0; done < CACHED; done += 8) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => login(port, PASSWORD, '127.0.0.50')));
      if (answers.some((answer) => answer.status !== 200)) throw new Error('a cached login was refused');
    }
    return CACHED / ((performance.now() - started) / 1000);
  };
  await login(ports.redis, PASSWORD, '127.0.0.50'); // verified once (counted in Redis), cached after
  const before = await redis.commandCalls();
  // Alternating, twice each, the better run of each counted: the first run also warms the JIT up.
  const rps = { memory: 0, redis: 0 };
  for (const store of ['memory', 'redis', 'memory', 'redis'] as const) rps[store] = Math.max(rps[store], await cachedRun(ports[store]));
  const after = await redis.commandCalls();
  const touched = Object.entries(after).filter(([command, calls]) => !['info', 'auth'].includes(command) && calls !== (before[command] ?? 0));
  const commands = touched.reduce((sum, [command, calls]) => sum + calls - (before[command] ?? 0), 0);

  const m = summarize(failed.memory);
  const r = summarize(failed.redis);
  const s = summarize(scriptMs);
  const fmt = (value: number, digits = 2): string => value.toFixed(digits);
  const version = (await redis.command('INFO', 'server')).match(/redis_version:(\S+)/)?.[1] ?? '?';
  const table = [
    `Run ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, redis-server ${version} (Debian) on loopback, ${failed.memory.length} failed logins per store.`,
    '',
    '| measure | memory store | Redis store | added by Redis |',
    '|---|---|---|---|',
    `| failed login (PBKDF2 included), client-side, median | ${fmt(m.median)} ms | ${fmt(r.median)} ms | ${fmt(r.median - m.median)} ms |`,
    `| failed login, p90 | ${fmt(m.p90)} ms | ${fmt(r.p90)} ms | ${fmt(r.p90 - m.p90)} ms |`,
    `| the throttle's own work per failed login (begin + finish, in-process), median | ${fmt(localUs, 2)} µs (mean) | ${fmt(s.median * 1000, 0)} µs (p90 ${fmt(s.p90 * 1000, 0)} µs) | two round trips, one Lua script each |`,
    `| successful cached logins, 8 at a time (better of 2 runs) | ${fmt(rps.memory, 0)} /s | ${fmt(rps.redis, 0)} /s | |`,
    `| Redis commands sent during ${2 * CACHED} cached logins (INFO commandstats) | | **${commands}**${touched.length > 0 ? ` (${touched.map(([command]) => command).join(', ')})` : ''} | |`,
  ].join('\n');
  console.log(table);
  if (options.save === true) {
    await saveSection(path.join(REPO_ROOT, 'docs', 'benchmarks.md'), { marker: SECTION_MARKER, start: '<!-- bench-throttle:latest -->', end: '<!-- /bench-throttle:latest -->', head: HEAD, reasons: '<!-- reasons: filled in by hand -->' }, table);
    log('wrote docs/benchmarks.md (login throttle store)');
  }
  process.exitCode = commands === 0 ? 0 : 1;
} finally {
  agent.destroy();
  await Promise.all(running.map((child) => child.stop()));
  await redis.stop();
  await rm(work, { recursive: true, force: true });
}
