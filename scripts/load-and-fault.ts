/**
 * Load and faults at once, for a set time: many concurrent clients on all four listeners (good
 * credentials over kept-alive and fresh connections; attackers with wrong, unknown, inactive,
 * cross-realm, malformed and missing credentials from many addresses), while the configuration is
 * edited (accounts added and removed, broken files written and fixed) and the certificate renewed
 * (certificate first, key later: a mismatched pair in between).
 *
 * Prints requests served, status counts, 5xx (apart from deliberate 503 overload answers), client
 * errors, keepd's memory after warm-up and at the end, and whether keepd stayed up and stopped
 * cleanly. Exit code 1 when a target is missed.
 *
 *   npm run bench:faults -- [seconds=60] [clients=32]
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSecret } from '../src/accounts/secret.js';
import { spawnKeepd, summarize, TLS_FIXTURES } from './lib/spawn-keepd.js';

const seconds = Number(process.argv[2] ?? 60);
const clients = Number(process.argv[3] ?? 32);
const warmupSeconds = Math.min(10, seconds / 4);
const ca = await readFile(path.join(TLS_FIXTURES, 'ca.cert.pem'));

type Listener = 'data' | 'health' | 'management' | 'metrics';
const ROUTES: Record<Listener, string> = { data: '/api/whoami', health: '/health', management: '/info', metrics: '/metrics' };
const REALMS: Record<Listener, string> = { data: 'singleDbModeUsers', health: 'healthcheckAPI', management: 'managementAPI', metrics: 'metricsAPI' };
const LISTENERS = Object.keys(ROUTES) as Listener[];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

// --- configuration ------------------------------------------------------------------------
const dir = await mkdtemp(path.join(tmpdir(), 'keepd-faults-'));
const certs = await mkdtemp(path.join(tmpdir(), 'keepd-faults-certs-'));
const keyFile = path.join(certs, 'tls.key');
const certFile = path.join(certs, 'tls.crt');
await copyFile(path.join(TLS_FIXTURES, 'server.key.pem'), keyFile);
await copyFile(path.join(TLS_FIXTURES, 'server.chain.pem'), certFile);

const users = Object.fromEntries(LISTENERS.map((l) => [l, { user: `${l}-user`, password: `${l}-password-load` }])) as Record<Listener, { user: string; password: string }>;
const identity: Record<string, Record<string, { active: boolean; secret: string }>> = {};
for (const listener of LISTENERS) {
  identity[REALMS[listener]] = {
    [users[listener].user]: { active: true, secret: await createSecret(users[listener].password) },
    retired: { active: false, secret: await createSecret('retired-password') },
  };
}
await writeFile(path.join(dir, 'base.json'), JSON.stringify({ HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0, TLSType: 'pem', TLSFile: keyFile, PEMCert: certFile, identity }));
// Accounts the editor adds and removes, salted beforehand.
const extras = await Promise.all(Array.from({ length: 40 }, async (_, i) => ({ user: `extra-${i}`, password: `extra-pw-${i}`, secret: await createSecret(`extra-pw-${i}`) })));
let liveExtras: typeof extras = [];

const keepd = await spawnKeepd(dir);
const pid = keepd.child.pid ?? 0;
const run = { crashed: false, stopping: false, exitStatus: null as number | string | null };
keepd.child.once('exit', (code, signal) => {
  if (!run.stopping) run.crashed = true;
  run.exitStatus = signal ?? code;
});

async function rssMiB(): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

// --- clients -----------------------------------------------------------------------------
const statuses = new Map<string, number>();
const errors = new Map<string, number>();
const latencies: number[] = [];
let unexpected5xx = 0;
let deliberate503 = 0;
const count = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

function send(listener: Listener, headers: Record<string, string>, agent: Agent | false, localAddress: string): Promise<void> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      `https://127.0.0.1:${keepd.ports[listener] ?? 0}${ROUTES[listener]}`,
      { agent, ca, servername: 'localhost', headers, localAddress, timeout: 15_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          latencies.push(performance.now() - started);
          count(statuses, String(status));
          if (status === 503 && body.includes('too many new credentials')) deliberate503++;
          else if (status >= 500) unexpected5xx++;
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => {
      count(errors, error.code ?? error.message);
      resolve();
    });
    req.end();
  });
}

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

async function goodClient(index: number, deadline: number): Promise<void> {
  const fresh = index % 4 === 0; // every fourth good client opens a new TLS connection per request
  const agent = fresh ? false : new Agent({ keepAlive: true, maxSockets: 1 });
  const localAddress = `127.0.0.${10 + index}`;
  while (performance.now() < deadline) {
    const listener = pick(LISTENERS);
    const extra = listener === 'health' && liveExtras.length > 0 && Math.random() < 0.2 ? pick(liveExtras) : undefined;
    await send(listener, extra ? basic(extra.user, extra.password) : basic(users[listener].user, users[listener].password), agent, localAddress);
  }
  if (agent) agent.destroy();
}

async function attacker(index: number, deadline: number): Promise<void> {
  // Half rotate through many addresses (each new credential costs a PBKDF2), half stick to a
  // few (they soon get 429). A fresh connection per attempt, as scanners do.
  const addresses = index % 2 === 0 ? 250 : 4;
  let round = 0;
  while (performance.now() < deadline) {
    const listener = pick(LISTENERS);
    const other = pick(LISTENERS.filter((l) => l !== listener));
    const headers = pick([
      basic(users[listener].user, 'wrong'),
      basic(`nobody-${round}`, 'x'),
      basic('retired', 'retired-password'),
      basic(users[other].user, users[other].password),
      { authorization: 'Basic !!!' },
      { authorization: `Basic ${'A'.repeat(4000)}` },
      {},
    ]);
    await send(listener, headers, false, `127.0.${1 + (index % 8)}.${1 + (round++ % addresses)}`);
  }
}

// --- faults ------------------------------------------------------------------------------
const faults = { edits: 0, brokenWrites: 0, renewals: 0 };
async function editor(deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    if (Math.random() < 0.25) {
      faults.brokenWrites++;
      await writeFile(path.join(dir, 'zz-load.json'), '{"identity": {"healthcheckAPI": {');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    liveExtras = extras.filter(() => Math.random() < 0.3);
    const accounts = Object.fromEntries(liveExtras.map((e) => [e.user, { active: true, secret: e.secret }]));
    await writeFile(path.join(dir, 'zz-load.json'), JSON.stringify({ identity: { healthcheckAPI: accounts }, LOG_LEVEL: pick(['info', 'warn']) }));
    faults.edits++;
  }
}

async function renewer(deadline: number): Promise<void> {
  let renewed = false;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 8000));
    renewed = !renewed;
    const name = renewed ? 'renewed' : 'server';
    await copyFile(path.join(TLS_FIXTURES, `${name}.chain.pem`), certFile);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await copyFile(path.join(TLS_FIXTURES, `${name}.key.pem`), keyFile);
    faults.renewals++;
  }
}

// --- run ---------------------------------------------------------------------------------
const started = performance.now();
const deadline = started + seconds * 1000;
const attackers = Math.max(1, Math.round(clients * 0.3));
const work = [
  ...Array.from({ length: clients - attackers }, (_, i) => goodClient(i, deadline)),
  ...Array.from({ length: attackers }, (_, i) => attacker(i, deadline)),
  editor(deadline),
  renewer(deadline),
];
await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
const rssStart = await rssMiB();
await Promise.all(work);
const rssEnd = await rssMiB();
const aliveAtEnd = !run.crashed && keepd.child.exitCode === null;
run.stopping = true;
await keepd.stop();
await rm(dir, { recursive: true, force: true });
await rm(certs, { recursive: true, force: true });

// --- report ------------------------------------------------------------------------------
const total = [...statuses.values()].reduce((a, b) => a + b, 0);
const lat = summarize(latencies);
const memoryRatio = rssEnd / rssStart;
console.log(`keepd load and faults: ${seconds} s, ${clients} clients (${attackers} attackers), ${new Date().toISOString()}, node ${process.version}`);
console.log(`requests answered      ${total} (${(total / seconds).toFixed(0)}/s); latency ms p50 ${lat.median.toFixed(1)}, p90 ${lat.p90.toFixed(1)}, max ${lat.max.toFixed(0)}`);
console.log(`status counts          ${[...statuses].sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`);
console.log(`5xx                    ${unexpected5xx} unexpected, ${deliberate503} deliberate 503 (verification overload)`);
console.log(`client errors          ${errors.size === 0 ? 'none' : [...errors].map(([e, n]) => `${e}: ${n}`).join(', ')}`);
console.log(`faults injected        ${faults.edits} config edits (${faults.brokenWrites} broken first), ${faults.renewals} certificate renewals`);
console.log(`keepd RSS              ${rssStart.toFixed(1)} MiB after ${warmupSeconds} s warm-up, ${rssEnd.toFixed(1)} MiB at the end (x${memoryRatio.toFixed(2)})`);
console.log(`keepd                  ${aliveAtEnd ? 'up throughout' : 'CRASHED'}; stopped with ${String(run.exitStatus)}`);
const ok = unexpected5xx === 0 && aliveAtEnd && run.exitStatus === 0 && Math.abs(memoryRatio - 1) <= 0.2;
console.log(`targets (no unexpected 5xx, no crash, memory within 20%): ${ok ? 'met' : 'MISSED'}`);
process.exitCode = ok ? 0 : 1;
