/**
 * HTTP/2 and the front listener (issue 12; part of `npm run bench`): keepd's health listener's
 * /health over HTTP/2 (h2load) and HTTP/1.1 keep-alive (h2load --h1, wrk), next to a bare Node
 * HTTP/2 server doing the same work and nginx with `ssl http2`; then the same requests on the
 * front listener's port (path route to the health listener) against the health listener's own
 * port: the routing cost (target < 5%). Prints the figures; `--save` writes them into
 * docs/benchmarks.md (its own section only). Tools: h2load (nghttp2-client), wrk, openssl,
 * taskset; nginx when installed. `--cpu-prof DIR` runs keepd under `node --cpu-prof` (profiles
 * written to DIR when it stops).
 *
 *   node dist/scripts/bench-front.js [--seconds 6] [--runs 5] [--save] [--cpu-prof DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectHttp2 } from 'node:http2';
import { request } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSecret } from '../src/accounts/secret.js';
import { freePortFor } from './lib/free-port.js';
import { cpuSeconds, h2load, wrk, type LoadResult } from './lib/front-load.js';
import { writeNginxHealth } from './lib/front-nginx.js';
import { frontOwnWork } from './lib/front-own-work.js';
import { costOfMedians, emptySeries, fmt, renderReport, saveReport, signed, TOOL_LABELS, TOOLS, type FrontReport, type RoutingCost, type TargetFigures, type Tool } from './lib/front-report.js';
import { has, median, pinned, stopChild } from './lib/measure-tools.js';
import { CLI, REPO_ROOT, TLS_FIXTURES } from './lib/spawn-keepd.js';

const { values: options } = parseArgs({
  options: { seconds: { type: 'string', default: '6' }, runs: { type: 'string', default: '5' }, save: { type: 'boolean', default: false }, 'cpu-prof': { type: 'string' } },
});
const SECONDS = Number(options.seconds);
const RUNS = Number(options.runs);
const CONNECTIONS = 32;
const STREAMS = 10;
const COST_TARGET = 0.05;
const log = (text: string): void => void process.stderr.write(`bench-front: ${text}\n`);

if (!has('h2load')) {
  console.error('bench-front: h2load is missing; install it with: apt-get install -y nghttp2-client');
  process.exit(2);
}
for (const tool of ['wrk', 'openssl']) {
  if (!has(tool)) {
    console.error(`bench-front: ${tool} is missing; install the tools with: apt-get install -y nghttp2-client wrk openssl nginx`);
    process.exit(2);
  }
}
const withNginx = has('nginx');
const canPin = has('taskset') && cpus().length >= 2;
const server = pinned(0, canPin); // keepd, bare Node and nginx on core 0 ...
const client = pinned(1, canPin); // ... h2load, wrk and this process on core 1
if (canPin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const keyFile = path.join(TLS_FIXTURES, 'server.key.pem');
const certFile = path.join(TLS_FIXTURES, 'server.chain.pem');
const ca = readFileSync(path.join(TLS_FIXTURES, 'ca.cert.pem'));
const USER = 'bench';
const PASSWORD = 'bench-password-1';
const basic = (password: string): string => `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;
const AUTH = basic(PASSWORD);
const WRONG = basic('wrong');
const work = await mkdtemp(path.join(tmpdir(), 'keepd-bench-front-'));
const children: ChildProcess[] = [];


function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitAccepting(ports: number[], child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await Promise.all(ports.map(accepting))).every(Boolean)) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${String(child.exitCode)}`);
    if (Date.now() > deadline) throw new Error(`${what} is not accepting on ${ports.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Answer {
  status: number;
  body: string;
  realm: string;
}

/** GET over HTTP/1.1, a new connection. */
function get1(port: number, authorization: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', servername: 'localhost', ca, agent: false, headers: { authorization } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, realm: res.headers['www-authenticate'] ?? '' }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET over HTTP/2, a new session. */
function get2(port: number, authorization: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`https://localhost:${port}`, { ca, host: '127.0.0.1', servername: 'localhost' });
    session.on('error', reject);
    const stream = session.request({ ':path': '/health', authorization });
    let status = 0;
    let realm = '';
    let body = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      realm = headers['www-authenticate'] ?? '';
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ status, body, realm });
    });
  });
}

/** The protocol a server picks when offered h2 and http/1.1 (ALPN). */
function alpn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ port, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const protocol = socket.alpnProtocol;
      socket.destroy();
      resolve(typeof protocol === 'string' ? protocol : 'none');
    });
    socket.on('error', reject);
  });
}

interface Target {
  name: string;
  port: number;
  /** The server's process (keepd, bare Node; taskset execs it), for its CPU time. */
  pid?: number;
  /** Whether it negotiates h2 (found by prepare). */
  h2: boolean;
}

/** Refuses to measure a target that does not check the password, over each protocol it speaks; then warms it up. */
async function prepare(target: Target): Promise<void> {
  const protocol = await alpn(target.port);
  target.h2 = protocol === 'h2';
  const checks: [string, (port: number, authorization: string) => Promise<Answer>][] = [['HTTP/1.1', get1], ...(target.h2 ? [['HTTP/2', get2] as [string, typeof get2]] : [])];
  for (const [label, get] of checks) {
    const right = await get(target.port, AUTH);
    const wrong = await get(target.port, WRONG);
    if (right.status !== 200 || wrong.status !== 401) throw new Error(`${target.name} over ${label}: right password gave ${right.status}, wrong gave ${wrong.status}; refusing to measure`);
    if (!wrong.realm.includes('healthcheckAPI')) throw new Error(`${target.name} over ${label}: the 401 names no healthcheckAPI realm (${wrong.realm}); refusing to measure`);
  }
  log(`${target.name}: ALPN ${protocol}; right password 200, wrong 401 (${checks.map(([label]) => label).join(' and ')}); warming up`);
  await wrk(url(target), AUTH, 3, CONNECTIONS, client);
  if (target.h2) await h2load({ url: url(target), authorization: AUTH, seconds: 3, connections: CONNECTIONS, streams: STREAMS, h1: false, logFile: path.join(work, 'warm.log'), wrap: client });
}

const url = (target: Target): string => `https://127.0.0.1:${target.port}/health`;

async function measure(target: Target, tool: Tool): Promise<LoadResult> {
  if (tool === 'h2' && !target.h2) return { rps: NaN, p99: NaN, requests: 0, failure: 'does not negotiate h2', note: '' };
  const logFile = path.join(work, 'h2load.log');
  switch (tool) {
    case 'h2':
      return h2load({ url: url(target), authorization: AUTH, seconds: SECONDS, connections: CONNECTIONS, streams: STREAMS, h1: false, logFile, wrap: client });
    case 'h1':
      return h2load({ url: url(target), authorization: AUTH, seconds: SECONDS, connections: CONNECTIONS, streams: 1, h1: true, logFile, wrap: client });
    case 'wrk':
      return wrk(url(target), AUTH, SECONDS, CONNECTIONS, client);
  }
}

/** The interpreter flags of keepd's shebang (`#!/usr/bin/env -S node FLAGS`), to run it under `node --cpu-prof` as it runs. */
function shebangFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0] ?? '';
  return first.replace(/^#!.*?\bnode\b/, '').trim().split(/\s+/).filter(Boolean);
}

/** keepconfig.d/front-by-path.json.example, the how-to's "one domain with paths"; `dominoHttp`: Domino's HTTP task moved to port 81. */
const routes = (dominoHttp: number): { path: string; to: string }[] => [
  { path: '/api', to: 'data' },
  { path: '/admin/ui', to: 'data' },
  { path: '/keep', to: 'data' },
  { path: '/openapi', to: 'data' },
  { path: '/.well-known', to: 'data' },
  { path: '/metrics', to: 'metrics' },
  { path: '/health', to: 'health' },
  { path: '/', to: `http://127.0.0.1:${dominoHttp}` },
];

const figures = new Map<string, TargetFigures>();
const costs = new Map<Tool, RoutingCost>(TOOLS.map((tool) => [tool, { tool, pairedRps: [], pairedCpu: [] }]));
let failed = false;

try {
  // --- keepd, with the front listener ---------------------------------------------------
  const configDir = path.join(work, 'keepconfig.d');
  await mkdir(configDir);
  const ports = { PORT: await freePortFor(), HEALTHCHECKPORT: await freePortFor(), MANAGMENTPORT: await freePortFor(), METRICSPORT: await freePortFor() };
  const frontPort = await freePortFor();
  const dominoHttp = await freePortFor(); // the how-to's Domino HTTP task on port 81: nothing listens, no request goes there
  await writeFile(
    path.join(configDir, 'bench.json'),
    JSON.stringify({
      HOST: '127.0.0.1',
      ...ports,
      TLSType: 'pem',
      TLSFile: keyFile,
      PEMCert: certFile,
      watch: { enabled: false },
      listeners: {
        front: {
          enabled: true,
          port: frontPort,
          routes: routes(dominoHttp),
        },
      },
      identity: {
        healthcheckAPI: { [USER]: { active: true, secret: await createSecret(PASSWORD) } },
        metricsAPI: { prom: { active: true, secret: await createSecret('prom-password') } },
        managementAPI: { admin: { active: true, secret: await createSecret('admin-password') } },
      },
    }),
  );
  const profileDir = options['cpu-prof'] ? path.resolve(options['cpu-prof']) : undefined;
  const [command, args] = profileDir
    ? server(process.execPath, [...shebangFlags(), '--cpu-prof', '--cpu-prof-dir', profileDir, CLI, 'start', '--config-dir', configDir])
    : server(CLI, ['start', '--config-dir', configDir]);
  const keepd = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(keepd);
  await waitAccepting([...Object.values(ports), frontPort], keepd, 'keepd');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const healthBody = (await get1(ports.HEALTHCHECKPORT, AUTH)).body;

  // --- baselines ------------------------------------------------------------------------
  const targets: Target[] = [
    { name: 'keepd', port: ports.HEALTHCHECKPORT, h2: false, ...(keepd.pid ? { pid: keepd.pid } : {}) },
    { name: 'keepd, front port', port: frontPort, h2: false, ...(keepd.pid ? { pid: keepd.pid } : {}) },
  ];
  const bodyFile = path.join(work, 'health.json');
  await writeFile(bodyFile, healthBody);
  {
    const [bareCommand, bareArgs] = server(process.execPath, [fileURLToPath(new URL('./lib/bare-server.js', import.meta.url)), '0', keyFile, certFile, USER, PASSWORD, bodyFile, '--http2']);
    const bare = spawn(bareCommand, bareArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(bare);
    const port = await new Promise<number>((resolve, reject) => {
      bare.once('exit', (code) => reject(new Error(`bare Node exited with ${String(code)}`)));
      bare.stdout.once('data', (line: Buffer) => resolve((JSON.parse(line.toString()) as { port: number }).port));
    });
    targets.push({ name: 'bare Node (http2, allowHTTP1)', port, h2: false, ...(bare.pid ? { pid: bare.pid } : {}) });
  }
  if (withNginx) {
    const port = await freePortFor();
    const [nginxCommand, nginxArgs] = server('nginx', await writeNginxHealth({ prefix: path.join(work, 'nginx'), port, keyFile, certFile, user: USER, password: PASSWORD, body: healthBody }));
    const nginx = spawn(nginxCommand, nginxArgs, { stdio: 'inherit' });
    children.push(nginx);
    await waitAccepting([port], nginx, 'nginx');
    targets.push({ name: 'nginx (ssl http2, auth_basic)', port, h2: false });
  } else log('nginx is not installed: no nginx baseline (apt-get install -y nginx)');
  for (const target of targets) figures.set(target.name, { name: target.name, series: { h2: emptySeries(), h1: emptySeries(), wrk: emptySeries() } });
  for (const target of targets) await prepare(target);

  // --- runs: every tool against every target, alternating; keepd's two ports back to back ---
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? targets : [...targets].reverse();
    const summary: string[] = [];
    for (const tool of TOOLS) {
      const counted = new Map<string, { rps: number; cpuUs: number }>();
      for (const target of order) {
        const cpuBefore = target.pid ? await cpuSeconds(target.pid) : NaN;
        const result = await measure(target, tool);
        const cpuUs = target.pid ? ((await cpuSeconds(target.pid)) - cpuBefore) / result.requests * 1e6 : NaN;
        const series = figures.get(target.name)?.series[tool];
        if (!series) continue;
        if (result.note) series.notes.push(`run ${i + 1}: ${result.note}`);
        if (result.failure) {
          series.failures.push(`run ${i + 1}: ${result.failure}`);
          summary.push(`${target.name} ${tool} FAILED (${result.failure})`);
          continue;
        }
        series.rps.push(result.rps);
        series.p99.push(result.p99);
        if (target.pid) series.cpuUs.push(cpuUs);
        counted.set(target.name, { rps: result.rps, cpuUs });
        summary.push(`${target.name} ${tool} ${fmt(result.rps)}/s p99 ${fmt(result.p99, 1)} ms${target.pid ? ` ${fmt(cpuUs, 1)} µs` : ''}`);
      }
      const separate = counted.get('keepd');
      const front = counted.get('keepd, front port');
      if (separate && front) {
        costs.get(tool)?.pairedRps.push(1 - front.rps / separate.rps);
        costs.get(tool)?.pairedCpu.push(front.cpuUs / separate.cpuUs - 1);
      }
    }
    log(`run ${i + 1}/${RUNS}: ${summary.join('; ')}`);
  }
  for (const child of [...children].reverse()) await stopChild(child);
  if (profileDir) log(`keepd's CPU profile is in ${profileDir}`);

  // The front's own work on a routed request, in-process (what the throughput runs cannot resolve below their noise).
  log("the front listener's own work per routed request, in-process");
  const ownWork = frontOwnWork(routes(dominoHttp), frontPort);

  // --- report ---------------------------------------------------------------------------
  const series = (name: string, tool: Tool): number[] => figures.get(name)?.series[tool].rps ?? [];
  const ratio = (a: number[], b: number[]): number => median(a) / median(b);
  const bareName = 'bare Node (http2, allowHTTP1)';
  const nginxName = 'nginx (ssl http2, auth_basic)';
  const ratios: FrontReport['ratios'] = [
    { name: 'keepd h2 / bare Node h2', value: ratio(series('keepd', 'h2'), series(bareName, 'h2'))},
    ...(withNginx ? [{ name: 'keepd h2 / nginx h2', value: ratio(series('keepd', 'h2'), series(nginxName, 'h2'))}] : []),
    { name: 'keepd h2 / keepd h1 (h2load --h1)', value: ratio(series('keepd', 'h2'), series('keepd', 'h1'))},
    { name: 'keepd h2 / keepd h1 (wrk)', value: ratio(series('keepd', 'h2'), series('keepd', 'wrk'))},
    { name: 'keepd h1 / bare Node h1 (wrk)', value: ratio(series('keepd', 'wrk'), series(bareName, 'wrk'))},
    { name: 'bare Node h2 / bare Node h1 (h2load --h1)', value: ratio(series(bareName, 'h2'), series(bareName, 'h1'))},
    ...(withNginx ? [{ name: 'nginx h2 / nginx h1 (h2load --h1)', value: ratio(series(nginxName, 'h2'), series(nginxName, 'h1'))}] : []),
  ];
  const costRows = [...costs.values()];
  const verdict = (tool: Tool): FrontReport['verdicts'][number] => {
    const paired = costs.get(tool)?.pairedRps ?? [];
    const cost = median(paired);
    const ofMedians = costOfMedians(series('keepd, front port', tool), series('keepd', tool));
    return {
      name: `front routing cost < ${COST_TARGET * 100}%, ${TOOL_LABELS[tool]}`,
      met: paired.length === 0 ? false : cost < COST_TARGET,
      measured: paired.length === 0 ? 'not measured' : `${signed(cost)} (median of ${paired.length} paired runs; from the medians ${signed(ofMedians)})`,
    };
  };
  const failures = [...figures.values()].flatMap((t) => TOOLS.flatMap((tool) => t.series[tool].failures.map((f) => `${t.name}, ${TOOL_LABELS[tool]}: ${f} (not counted)`)));
  const report: FrontReport = {
    machine: `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; servers ${canPin ? 'pinned to core 0, load generators to core 1 (taskset)' : 'not pinned'}; ${RUNS} runs of ${SECONDS} s per target and tool, alternating between the targets, after a 3 s warm-up each; medians, ± the largest deviation from the median.`,
    targets: [...figures.values()],
    ratios,
    costs: costRows,
    ownWork: { microseconds: ownWork.microseconds, rounds: ownWork.rounds, perRequest: median(figures.get('keepd')?.series.wrk.cpuUs ?? []) },
    verdicts: [verdict('wrk'), verdict('h2'), { name: `every run counted (no non-2xx, errored, timed-out request; the protocol asked for)`, met: failures.length === 0, measured: failures.length === 0 ? 'yes' : `${failures.length} not counted` }],
    notes: [...failures, ...[...figures.values()].flatMap((t) => TOOLS.flatMap((tool) => t.series[tool].notes.map((n) => `${t.name}, ${TOOL_LABELS[tool]}: ${n}`)))],
  };
  const table = renderReport(report);
  console.log(table);
  if (options.save) {
    const doc = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
    await saveReport(doc, table);
    log(`wrote ${doc}`);
  }
  failed = report.verdicts.some((v) => v.met === false);
} catch (error) {
  console.error(`bench-front: ${error instanceof Error ? error.message : String(error)}`);
  failed = true;
} finally {
  for (const child of [...children].reverse()) await stopChild(child);
  await rm(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
