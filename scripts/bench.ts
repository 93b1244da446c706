/**
 * keepd side by side with a bare Node https server (its physical limit) and nginx (what an admin
 * would otherwise put in front), on one machine in one run, with the same certificate and TLS
 * settings. Prints absolute figures and keepd/bare-Node and keepd/nginx ratios, and checks the
 * targets. Tools: wrk, ab (apache2-utils), openssl; nginx when installed:
 *
 *   apt-get install -y wrk apache2-utils openssl nginx
 *   npm run bench -- [--seconds 6] [--runs 5] [--save]     (--save writes docs/benchmarks.md)
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { indexAccounts } from '../src/accounts/accounts.js';
import { ClientThrottle } from '../src/accounts/shared-throttle.js';
import { createSecret } from '../src/accounts/secret.js';
import { VerificationCache } from '../src/accounts/verification-cache.js';
import { VerificationLimiter } from '../src/accounts/verification-limiter.js';
import { trustTest } from '../src/config/trusted-proxies.js';
import { authenticate, type AuthGate, type AuthOutcome } from '../src/auth/authenticate.js';
import { KeepdMetrics } from '../src/metrics/keepd-metrics.js';
import { freePortFor } from './lib/free-port.js';
import { writeNginxHealth } from './lib/front-nginx.js';
import { SECTION_MARKER as FRONT_SECTION } from './lib/front-report.js';
import { SECTION_MARKER as GATEWAY_SECTION } from './lib/gateway-report.js';
import { SECTION_MARKER as THROTTLE_SECTION } from './lib/throttle-report.js';
import { has, median, parseAb, parseSTime, parseWrk, pinned, run, spread, stopChild } from './lib/measure-tools.js';
import { CLI, REPO_ROOT, summarize, TLS_FIXTURES } from './lib/spawn-keepd.js';

const { values: options } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, runs: { type: 'string', default: '5' }, save: { type: 'boolean', default: false } } });
const SECONDS = Number(options.seconds);
const RUNS = Number(options.runs);

for (const tool of ['wrk', 'ab', 'openssl']) {
  if (!has(tool)) {
    console.error(`bench: ${tool} is missing; install the tools with: apt-get install -y wrk apache2-utils openssl nginx`);
    process.exit(2);
  }
}
const withNginx = has('nginx');
const canPin = has('taskset') && cpus().length >= 2;
const server = pinned(0, canPin); // servers on core 0 ...
const client = pinned(1, canPin); // ... load generators on core 1
const log = (text: string): void => void process.stderr.write(`${text}\n`);

// --- material ----------------------------------------------------------------------------
const work = await mkdtemp(path.join(tmpdir(), 'keepd-bench-'));
const keyFile = path.join(work, 'server.key.pem');
const certFile = path.join(work, 'server.chain.pem');
const caFile = path.join(TLS_FIXTURES, 'ca.cert.pem');
const ca = readFileSync(caFile);
await copyFile(path.join(TLS_FIXTURES, 'server.key.pem'), keyFile);
await copyFile(path.join(TLS_FIXTURES, 'server.chain.pem'), certFile);
const USER = 'bench';
const PASSWORD = 'bench-password-1';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const WRONG = `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}`;
const fresh = await Promise.all(Array.from({ length: 20 }, async (_, i) => ({ user: `new-${i}`, password: `new-password-${i}`, secret: await createSecret(`new-password-${i}`) })));

const configDir = path.join(work, 'keepconfig.d');
await mkdir(configDir);
const ports = { PORT: await freePortFor(), HEALTHCHECKPORT: await freePortFor(), MANAGMENTPORT: await freePortFor(), METRICSPORT: await freePortFor() };
await writeFile(
  path.join(configDir, 'bench.json'),
  JSON.stringify({
    HOST: '127.0.0.1',
    ...ports,
    TLSType: 'pem',
    TLSFile: keyFile,
    PEMCert: certFile,
    watch: { enabled: false },
    identity: {
      healthcheckAPI: { [USER]: { active: true, secret: await createSecret(PASSWORD) }, ...Object.fromEntries(fresh.map((f) => [f.user, { active: true, secret: f.secret }])) },
      metricsAPI: { prom: { active: true, secret: await createSecret('prom-password') } },
      managementAPI: { admin: { active: true, secret: await createSecret('admin-password') } },
    },
  }),
);

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function startKeepd(): ChildProcess {
  const [command, args] = server(CLI, ['start', '--config-dir', configDir]);
  return spawn(command, args, { stdio: 'ignore' });
}


async function rssMiB(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid ?? 0}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function get(port: number, route: string, authorization: string, agent: Agent | false = false): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: route, servername: 'localhost', ca, agent, headers: { authorization } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

// --- start-up ----------------------------------------------------------------------------
log('start-up: time from spawning `node dist/keepd.mjs start` to all four listeners accepting');
const startups: number[] = [];
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  const child = startKeepd();
  while (!(await Promise.all(Object.values(ports).map(accepting))).every(Boolean)) await new Promise((resolve) => setTimeout(resolve, 2));
  startups.push(performance.now() - started);
  await stopChild(child);
}

// --- servers -----------------------------------------------------------------------------
const keepd = startKeepd();
while (!(await Promise.all(Object.values(ports).map(accepting))).every(Boolean)) await new Promise((resolve) => setTimeout(resolve, 10));
await new Promise((resolve) => setTimeout(resolve, 1500));
const rssIdle = await rssMiB(keepd.pid);
const healthBody = (await get(ports.HEALTHCHECKPORT, '/health', AUTH)).body;
const bodyFile = path.join(work, 'health.json');
await writeFile(bodyFile, healthBody);

interface Target {
  name: string;
  port: number;
  child?: ChildProcess;
}
const bareServer = (): Promise<Target> => {
  const [command, args] = server(process.execPath, [path.join(REPO_ROOT, 'dist', 'scripts', 'lib', 'bare-server.js'), '0', keyFile, certFile, USER, PASSWORD, bodyFile]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', (line: Buffer) => resolve({ name: 'bare Node', port: (JSON.parse(line.toString()) as { port: number }).port, child })));
};
const nginxServer = async (): Promise<Target> => {
  const port = await freePortFor();
  // HTTP/1.1 only here: bench-front.ts measures nginx's HTTP/2.
  const nginxArgs = await writeNginxHealth({ prefix: path.join(work, 'nginx'), port, keyFile, certFile, user: USER, password: PASSWORD, body: healthBody, http2: false });
  const [command, args] = server('nginx', nginxArgs);
  const child = spawn(command, args, { stdio: 'inherit' });
  while (!(await accepting(port))) await new Promise((resolve) => setTimeout(resolve, 20));
  return { name: 'nginx', port, child };
};

interface Figures {
  keepAliveRps: number[];
  keepAliveP99: number[];
  newConnectionRps: number[];
  fullHandshakes: number[];
  resumedHandshakes: number[];
  fullHandshakes12: number[];
  resumedHandshakes12: number[];
  notes: string[];
}

function emptyFigures(): Figures {
  return { keepAliveRps: [], keepAliveP99: [], newConnectionRps: [], fullHandshakes: [], resumedHandshakes: [], fullHandshakes12: [], resumedHandshakes12: [], notes: [] };
}

/** Refuses to measure a server that does not check the password; then warms it up. */
async function prepareTarget(target: Target): Promise<void> {
  const right = await get(target.port, '/health', AUTH);
  const wrong = await get(target.port, '/health', WRONG);
  if (right.status !== 200 || wrong.status !== 401) throw new Error(`${target.name}: right password gave ${right.status}, wrong gave ${wrong.status}; refusing to measure`);
  log(`${target.name}: right password 200, wrong 401; warming up`);
  const [command, args] = client('wrk', ['-t1', '-c32', '-d3s', '-H', `Authorization: ${AUTH}`, `https://127.0.0.1:${target.port}/health`]);
  await run(command, args);
}

/** One run of every measurement against one server, added to its figures. */
async function measureOnce(target: Target, figures: Figures): Promise<void> {
  const url = `https://127.0.0.1:${target.port}/health`;
  const [command, args] = client('wrk', ['-t1', '-c32', `-d${SECONDS}s`, '--latency', '-H', `Authorization: ${AUTH}`, url]);
  const result = parseWrk((await run(command, args)).output);
  figures.keepAliveRps.push(result.rps);
  figures.keepAliveP99.push(result.p99);
  if (result.errors) figures.notes.push(`wrk: ${result.errors}`);

  const [abCommand, abArgs] = client('ab', ['-q', '-n', '10000000', '-t', String(SECONDS), '-c', '16', '-H', `Authorization: ${AUTH}`, url]);
  const ab = parseAb((await run(abCommand, abArgs)).output);
  figures.newConnectionRps.push(ab.rps);
  if (ab.failed + ab.non2xx > 0) figures.notes.push(`ab: ${ab.failed} failed, ${ab.non2xx} non-2xx`);

  // Sequential handshakes (one connection at a time), TLS 1.3 (what current clients use) and 1.2.
  const handshakes: [string, string, number[]][] = [
    ['-new', '', figures.fullHandshakes],
    ['-reuse', '', figures.resumedHandshakes],
    ['-new', '-tls1_2', figures.fullHandshakes12],
    ['-reuse', '-tls1_2', figures.resumedHandshakes12],
  ];
  for (const [mode, version, into] of handshakes) {
    const [sCommand, sArgs] = client('openssl', ['s_time', '-connect', `127.0.0.1:${target.port}`, mode, ...(version ? [version] : []), '-time', String(Math.max(3, SECONDS / 2)), '-www', '/health', '-CAfile', caFile]);
    const timed = await run(sCommand, sArgs);
    into.push(parseSTime(timed.output) / timed.seconds);
  }
}

// All servers run at once (an idle one costs nothing) and the runs alternate between them, so
// that a slow moment of a shared machine does not fall on one server only.
const servers: Target[] = [{ name: 'keepd', port: ports.HEALTHCHECKPORT }, await bareServer()];
if (withNginx) servers.push(await nginxServer());
const results = new Map<string, Figures>(servers.map((t) => [t.name, emptyFigures()]));
for (const target of servers) await prepareTarget(target);
for (let i = 0; i < RUNS; i++) {
  for (const target of servers) await measureOnce(target, results.get(target.name) ?? emptyFigures());
  log(`run ${i + 1}/${RUNS} done`);
}
const rssAfterLoad = await rssMiB(keepd.pid);
for (const target of servers) if (target.child) await stopChild(target.child);

// --- keepd alone ---------------------------------------------------------------------------
log('keepd: /metrics scrapes, new and repeated credentials');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const promAuth = `Basic ${Buffer.from('prom:prom-password').toString('base64')}`;
const scrapes: number[] = [];
for (let i = 0; i < 60; i++) scrapes.push((await get(ports.METRICSPORT, '/metrics', promAuth, agent)).ms);
const firstUse: number[] = [];
const repeated: number[] = [];
for (const account of fresh.slice(0, 10)) {
  const authorization = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
  firstUse.push((await get(ports.HEALTHCHECKPORT, '/health', authorization, agent)).ms);
  for (let i = 0; i < 5; i++) repeated.push((await get(ports.HEALTHCHECKPORT, '/health', authorization, agent)).ms);
}
// A burst of new credentials while a cached one keeps asking: the event loop must stay free.
const burst = fresh.slice(10).flatMap((account) => Array.from({ length: 4 }, () => get(ports.HEALTHCHECKPORT, '/health', `Basic ${Buffer.from(`${account.user}:${account.password}x`).toString('base64')}`)));
const duringBurst: number[] = [];
const burstDone = Promise.all(burst);
const burstState = { over: false };
void burstDone.then(() => (burstState.over = true));
while (!burstState.over) duringBurst.push((await get(ports.HEALTHCHECKPORT, '/health', AUTH, agent)).ms);
agent.destroy();
await stopChild(keepd);

// The cost of a repeated credential over no authentication: keepd's real authentication
// (listeners/authentication.ts: parse, throttle, cache) called directly with a cached credential,
// in CPU time per call. (Fastify's inject() would include the hook dispatch, but it leaks about
// 9 KB per call in this Fastify version, so it cannot run long enough to be measured.)
log('auth overhead: authenticate() on a cached credential, in-process');
const index = indexAccounts({ healthcheckAPI: { [USER]: { active: true, secret: await createSecret(PASSWORD) } }, managementAPI: {}, metricsAPI: {}, singleDbModeUsers: {} });
const gate: AuthGate = {
  listener: 'health',
  realm: 'healthcheckAPI',
  accounts: () => index,
  cache: new VerificationCache(),
  limiter: new VerificationLimiter(() => ({ concurrency: 4, queueLimit: 200 })),
  throttle: new ClientThrottle('health', () => ({ enabled: true, maxFailures: 10, windowSeconds: 60, exemptLoopback: false }), () => undefined),
  metrics: new KeepdMetrics(),
  trust: () => trustTest([]),
};
const warm = await authenticate(gate, AUTH, '127.0.0.1');
if (warm.kind !== 'ok') throw new Error('authentication refused the bench account');
const guard = (done: (outcome: AuthOutcome) => void): void => {
  const outcome = authenticate(gate, AUTH, '127.0.0.1');
  if (outcome instanceof Promise) void outcome.then(done);
  else done(outcome);
};
const overheads: number[] = [];
for (let round = 0; round < 11; round++) {
  let failures = 0;
  const before = process.cpuUsage();
  for (let i = 0; i < 100_000; i++) {
    guard((outcome) => {
      if (outcome.kind !== 'ok') failures++;
    });
  }
  const used = process.cpuUsage(before);
  if (failures > 0) throw new Error('the guard refused a cached credential');
  overheads.push((used.user + used.system) / 100_000);
}
await rm(work, { recursive: true, force: true });

// --- report --------------------------------------------------------------------------------
const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const names = [...results.keys()];
const row = (label: string, pick: (f: Figures) => number[], digits = 0): string =>
  `| ${label} | ${names.map((s) => { const v = pick(results.get(s) as Figures); return `${fmt(median(v), digits)} ${spread(v)}`.trim(); }).join(' | ')} |`;
const ratio = (pick: (f: Figures) => number[], other: string): number => median(pick(results.get('keepd') as Figures)) / median(pick(results.get(other) as Figures));
const ratioRow = (label: string, pick: (f: Figures) => number[]): string => `| ${label} | ${fmt(ratio(pick, 'bare Node'), 2)} | ${withNginx ? fmt(ratio(pick, 'nginx'), 2) : 'n/a'} |`;
const keepdFigures = results.get('keepd') as Figures;
const resumption = (f: Figures): number => median(f.resumedHandshakes) / median(f.fullHandshakes);
const resumption12 = (f: Figures): number => median(f.resumedHandshakes12) / median(f.fullHandshakes12);
const scrape = summarize(scrapes);
const first = summarize(firstUse);
const again = summarize(repeated);
const busy = summarize(duringBurst);
const overhead = median(overheads);
const startup = summarize(startups);

const targets: [string, boolean, string][] = [
  ['/health keep-alive throughput >= 0.85 x bare Node', ratio((f) => f.keepAliveRps, 'bare Node') >= 0.85, fmt(ratio((f) => f.keepAliveRps, 'bare Node'), 2)],
  ['/health keep-alive p99 <= 1.5 x bare Node', ratio((f) => f.keepAliveP99, 'bare Node') <= 1.5, fmt(ratio((f) => f.keepAliveP99, 'bare Node'), 2)],
  ['new-connection throughput >= 0.9 x bare Node', ratio((f) => f.newConnectionRps, 'bare Node') >= 0.9, fmt(ratio((f) => f.newConnectionRps, 'bare Node'), 2)],
  ['resumed handshakes >= 3 x full handshakes (keepd, TLS 1.3)', resumption(keepdFigures) >= 3, `${fmt(resumption(keepdFigures), 1)}x (TLS 1.2: ${fmt(resumption12(keepdFigures), 1)}x)`],
  ['repeated credential adds < 0.1 ms over no auth', overhead < 100, `${fmt(overhead, 2)} µs`],
  ['all four listeners accepting < 500 ms after process start', startup.median < 500, `median ${fmt(startup.median)} ms, worst ${fmt(startup.max)} ms`],
  ['RSS < 100 MB after load', rssAfterLoad < 100, `${fmt(rssAfterLoad, 1)} MiB`],
];

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const lines = [
  `Machine: ${cpus().length} cores (${cpu}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; servers ${canPin ? 'pinned to core 0, load generators to core 1 (taskset)' : 'not pinned'}; ${RUNS} runs of ${SECONDS} s each, alternating between the servers, after a 3 s warm-up; medians, ± the largest deviation from the median.`,
  '',
  `| figure | ${names.join(' | ')} |`,
  `|---|${names.map(() => '---').join('|')}|`,
  row('/health keep-alive, requests/s (wrk, 32 connections)', (f) => f.keepAliveRps),
  row('/health keep-alive, p99 ms', (f) => f.keepAliveP99, 2),
  row('/health, new TLS connection per request, requests/s (ab, 16 concurrent)', (f) => f.newConnectionRps),
  row('TLS 1.3 full handshakes + request, per s (openssl s_time -new, sequential)', (f) => f.fullHandshakes),
  row('TLS 1.3 resumed handshakes + request, per s (openssl s_time -reuse, sequential)', (f) => f.resumedHandshakes),
  `| TLS 1.3 resumed / full | ${names.map((s) => `${fmt(resumption(results.get(s) as Figures), 1)}x`).join(' | ')} |`,
  row('TLS 1.2 full handshakes + request, per s', (f) => f.fullHandshakes12),
  row('TLS 1.2 resumed handshakes + request, per s', (f) => f.resumedHandshakes12),
  `| TLS 1.2 resumed / full | ${names.map((s) => `${fmt(resumption12(results.get(s) as Figures), 1)}x`).join(' | ')} |`,
  '',
  '| ratio | keepd / bare Node | keepd / nginx |',
  '|---|---|---|',
  ratioRow('keep-alive requests/s', (f) => f.keepAliveRps),
  ratioRow('keep-alive p99 (lower is better)', (f) => f.keepAliveP99),
  ratioRow('new-connection requests/s', (f) => f.newConnectionRps),
  ratioRow('TLS 1.3 resumed handshakes/s', (f) => f.resumedHandshakes),
  '',
  '| keepd alone | value |',
  '|---|---|',
  `| /metrics scrape latency (keep-alive, 60 scrapes) | median ${fmt(scrape.median, 2)} ms, p90 ${fmt(scrape.p90, 2)} ms, max ${fmt(scrape.max, 2)} ms |`,
  `| first request with a new credential (one PBKDF2) | median ${fmt(first.median, 1)} ms, max ${fmt(first.max, 1)} ms |`,
  `| the same credential again (cache) | median ${fmt(again.median, 2)} ms, max ${fmt(again.max, 2)} ms |`,
  `| cached requests during a burst of 40 new credentials | ${duringBurst.length} requests, median ${fmt(busy.median, 2)} ms, max ${fmt(busy.max, 2)} ms |`,
  `| repeated credential: keepd's guard hook on a cached credential (in-process, CPU per call, median of 11 rounds of 100,000) | ${fmt(overhead, 2)} µs (rounds ${fmt(Math.min(...overheads), 2)} to ${fmt(Math.max(...overheads), 2)}) |`,
  `| start to all four listeners accepting (5 starts) | median ${fmt(startup.median)} ms, worst ${fmt(startup.max)} ms |`,
  `| RSS idle / after load | ${fmt(rssIdle, 1)} MiB / ${fmt(rssAfterLoad, 1)} MiB |`,
  '',
  '| target | met | measured |',
  '|---|---|---|',
  ...targets.map(([name, met, value]) => `| ${name} | ${met ? 'yes' : '**no**'} | ${value} |`),
  ...[...results].flatMap(([name, f]) => f.notes.map((note) => `\nNote (${name}): ${note}`)),
];
const table = lines.join('\n');
console.log(table);
if (options.save) {
  const doc = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
  await mkdir(path.dirname(doc), { recursive: true });
  const previous = await readFile(doc, 'utf8').catch(() => '');
  const marker = '<!-- bench:latest -->';
  const head = previous.includes(marker) ? previous.slice(0, previous.indexOf(marker)) : '# Benchmarks\n\nWritten by `npm run bench -- --save` (scripts/bench.ts).\n\n';
  // The sections after this one (bench-gateway.ts's, bench-front.ts's, bench-throttle.ts's) are theirs: kept as they are.
  const after = [GATEWAY_SECTION, FRONT_SECTION, THROTTLE_SECTION].map((section) => previous.indexOf(section)).filter((at) => at >= 0 && at > previous.indexOf(marker));
  const tail = after.length > 0 ? `\n${previous.slice(Math.min(...after))}` : '';
  await writeFile(doc, `${head}${marker}\n${table}\n${tail}`);
  log(`wrote ${doc}`);
}

// The gateway part (scripts/bench-gateway.ts), then HTTP/2 and the front listener (scripts/bench-front.ts),
// then the login throttle's Redis store (scripts/bench-throttle.ts), with the same options: their
// own servers, their own sections of the document.
const part = (script: string): Promise<number | null> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...process.argv.slice(2)], { stdio: 'inherit' });
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code));
  });
const gateway = await part('./bench-gateway.js');
const front = await part('./bench-front.js');
const throttle = await part('./bench-throttle.js');
process.exitCode = targets.every(([, met]) => met) && gateway === 0 && front === 0 && throttle === 0 ? 0 : 1;
