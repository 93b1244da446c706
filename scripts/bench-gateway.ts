/**
 * The gateway benchmark (part of `npm run bench`): one upstream (the product stand-in) measured
 * directly and behind keepd's data-port gateway, nginx `proxy_pass`, nginx `auth_basic` +
 * `proxy_pass`, and the fastest bare Node proxy; then 50 MB streamed each way through keepd with
 * its RSS sampled. Prints the figures, ratios and targets; `--save` writes them into
 * docs/benchmarks.md (its gateway section only). Tools: wrk, curl, openssl, taskset, nginx.
 *
 *   node dist/scripts/bench-gateway.js [--seconds 6] [--runs 5] [--save]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as requestHttp } from 'node:http';
import { request } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expectedDownloadSha256 } from '../test/helpers/product-stand-in.js';
import { freePortFor } from './lib/free-port.js';
import { startGatewayKeepd, waitAccepting, writeGatewayKeepd, keepdLog } from './lib/gateway-keepd.js';
import { writeNginxGateway } from './lib/gateway-nginx.js';
import { startNoise } from './lib/gateway-noise.js';
import { fmt, renderReport, saveReport, type Report, type Row, type StreamFigures } from './lib/gateway-report.js';
import { download, makeUploadFile, rssMiB, upload } from './lib/gateway-stream.js';
import { has, median, parseWrk, pinned, run, stopChild } from './lib/measure-tools.js';
import { REPO_ROOT, TLS_FIXTURES } from './lib/spawn-keepd.js';

const { values: options } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, runs: { type: 'string', default: '5' }, save: { type: 'boolean', default: false } } });
const SECONDS = Number(options.seconds);
const RUNS = Number(options.runs);
const STREAM_BYTES = 50 * 1024 * 1024;
const log = (text: string): void => void process.stderr.write(`bench-gateway: ${text}\n`);

for (const tool of ['wrk', 'curl', 'openssl']) {
  if (!has(tool)) {
    console.error(`bench-gateway: ${tool} is missing; install the tools with: apt-get install -y wrk curl openssl nginx`);
    process.exit(2);
  }
}
const otherWork = startNoise(); // other work on the machine: noise in the figures
const withNginx = has('nginx');
const canPin = has('taskset') && cpus().length >= 2;
const server = pinned(0, canPin); // every server (upstream, proxies) on core 0 ...
const client = pinned(1, canPin); // ... wrk, curl and this process on core 1
if (canPin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const built = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'); // dist/ (or another outDir)
const keyFile = path.join(TLS_FIXTURES, 'server.key.pem');
const certFile = path.join(TLS_FIXTURES, 'server.chain.pem');
const ca = readFileSync(path.join(TLS_FIXTURES, 'ca.cert.pem'));
const USER = 'bench';
const PASSWORD = 'bench-password-1';
const basic = (password: string): string => `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;
const AUTH = basic(PASSWORD);
const work = await mkdtemp(path.join(tmpdir(), 'keepd-bench-gateway-'));
const children: ChildProcess[] = [];


/** Spawns a server pinned to core 0 that prints one line when ready; resolves with it. */
function startServer(command: string, args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const [wrapped, wrappedArgs] = server(command, args);
  const child = spawn(wrapped, wrappedArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${command} exited with ${String(code)}`)));
    child.stdout.setEncoding('utf8').once('data', (line: string) => resolve({ child, line: line.trim() }));
  });
}

function get(url: string, authorization?: string): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: target.port, path: target.pathname, servername: 'localhost', ca, agent: false as const, headers: authorization ? { authorization } : {} };
    const req = (target.protocol === 'https:' ? request : requestHttp)(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Subject {
  key: string;
  label: string;
  url: string;
  /** Whether it needs the Basic credential (and must refuse a wrong one). */
  auth: boolean;
}

/** Refuses to measure a server that does not proxy, or lets a wrong password through; then warms it up. */
async function prepare(subject: Subject, warmSeconds = 2): Promise<void> {
  const right = await get(subject.url, subject.auth ? AUTH : undefined);
  if (right.status !== 200 || right.body !== 'hello world\n') throw new Error(`${subject.label}: /hello gave ${right.status} ${JSON.stringify(right.body.slice(0, 200))}; refusing to measure`);
  if (subject.auth) {
    const wrong = await get(subject.url, basic('wrong'));
    const none = await get(subject.url);
    if (wrong.status !== 401 || none.status !== 401) throw new Error(`${subject.label}: a wrong password gave ${wrong.status}, none ${none.status}; refusing to measure`);
  }
  await wrk(subject, warmSeconds);
}

async function wrk(subject: Subject, seconds: number): Promise<{ rps: number; p99: number; errors: string }> {
  const [command, args] = client('wrk', ['-t1', '-c32', `-d${seconds}s`, '--latency', ...(subject.auth ? ['-H', `Authorization: ${AUTH}`] : []), subject.url]);
  return parseWrk((await run(command, args)).output);
}

/** `runs` rounds of `seconds` each, alternating between the subjects (a slow moment of a shared machine falls on all of them). */
async function measure(subjects: Subject[], runs: number, seconds: number): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>(subjects.map((s) => [s.key, { key: s.key, label: s.label, rps: [], p99: [], notes: [] }]));
  for (let i = 0; i < runs; i++) {
    for (const subject of subjects) {
      const result = await wrk(subject, seconds);
      const row = rows.get(subject.key);
      row?.rps.push(result.rps);
      row?.p99.push(result.p99);
      if (result.errors) row?.notes.push(`wrk: ${result.errors}`);
    }
    log(`run ${i + 1}/${runs}: ${[...rows.values()].map((r) => `${r.key} ${fmt(r.rps[i] ?? NaN)}/s p99 ${fmt(r.p99[i] ?? NaN, 1)} ms`).join(', ')}`);
  }
  return rows;
}

try {
  // --- servers ---------------------------------------------------------------------------
  const upstreamPort = await freePortFor();
  const standIn = (await startServer(process.execPath, [path.join(built, 'test', 'helpers', 'product-stand-in.js'), '--port', String(upstreamPort), '--host', '127.0.0.1'])).child;
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const keepds = new Map<'passthrough' | 'functional', { child: ChildProcess; port: number }>();
  for (const auth of ['passthrough', 'functional'] as const) {
    const { configDir, port } = await writeGatewayKeepd({ dir: path.join(work, `keepd-${auth}`), auth, upstream, keyFile, certFile, user: USER, password: PASSWORD });
    const child = await startGatewayKeepd(configDir, port, server);
    children.push(child);
    keepds.set(auth, { child, port });
  }
  const keepdPass = keepds.get('passthrough');
  const keepdFunc = keepds.get('functional');
  if (!keepdPass || !keepdFunc) throw new Error('keepd did not start');
  const subjects: Subject[] = [
    { key: 'upstream', label: 'upstream direct (plain http)', url: `${upstream}/hello`, auth: false },
    { key: 'keepd-pass', label: 'keepd gateway, passthrough', url: `https://127.0.0.1:${keepdPass.port}/hello`, auth: false },
    { key: 'keepd-func', label: 'keepd gateway, functional (cached Basic)', url: `https://127.0.0.1:${keepdFunc.port}/hello`, auth: true },
  ];
  let nginx: ChildProcess | undefined;
  if (withNginx) {
    const [proxyPort, authPort] = [await freePortFor(), await freePortFor()];
    const args = await writeNginxGateway({ prefix: path.join(work, 'nginx'), upstreamPort, proxyPort, authPort, keyFile, certFile, user: USER, password: PASSWORD });
    const [command, wrapped] = server('nginx', args);
    nginx = spawn(command, wrapped, { stdio: 'inherit' });
    children.push(nginx);
    await waitAccepting(proxyPort, 'nginx', nginx);
    await waitAccepting(authPort, 'nginx', nginx);
    subjects.push(
      { key: 'nginx-proxy', label: 'nginx proxy_pass (TLS, upstream keepalive 32)', url: `https://127.0.0.1:${proxyPort}/hello`, auth: false },
      { key: 'nginx-auth', label: 'nginx auth_basic (apr1) + proxy_pass', url: `https://127.0.0.1:${authPort}/hello`, auth: true },
    );
  } else log('nginx is not installed: its rows are left out');

  // --- the bare Node proxy: pick the fastest variant --------------------------------------
  const variantNames = ['dispatch', 'stream', 'request', 'agent'] as const;
  const variantLabel = (v: string): string => (v === 'agent' ? 'node:http keep-alive Agent, piped' : `undici Pool, pool.${v}()`);
  const bare = new Map<string, { child: ChildProcess; subject: Subject }>();
  for (const variant of variantNames) {
    const { child, line } = await startServer(process.execPath, [path.join(built, 'scripts', 'lib', 'gateway-bare-proxy.js'), variant, keyFile, certFile, upstream]);
    const { port } = JSON.parse(line) as { port: number };
    bare.set(variant, { child, subject: { key: `bare-${variant}`, label: `bare Node proxy (${variantLabel(variant)})`, url: `https://127.0.0.1:${port}/hello`, auth: false } });
  }
  log(`picking the bare proxy: ${variantNames.join(', ')}`);
  const bareSubjects = [...bare.values()].map((b) => b.subject);
  for (const subject of bareSubjects) await prepare(subject, 1);
  const picked = await measure(bareSubjects, 2, Math.max(2, Math.round(SECONDS / 2)));
  const best = [...picked.values()].sort((a, b) => median(b.rps) - median(a.rps))[0];
  if (!best) throw new Error('no bare proxy variant was measured');
  const bestVariant = best.key.replace('bare-', '');
  for (const [variant, { child }] of bare) if (variant !== bestVariant) await stopChild(child);
  const baseline = bare.get(bestVariant)?.subject;
  if (!baseline) throw new Error('the baseline proxy is gone');
  subjects.push({ ...baseline, key: 'bare' });
  log(`baseline: ${baseline.label}`);

  // --- throughput and latency -------------------------------------------------------------
  for (const subject of subjects) {
    log(`warming up ${subject.label}`);
    await prepare(subject);
  }
  const rows = await measure(subjects, RUNS, SECONDS);

  // --- streaming ----------------------------------------------------------------------------
  log('streaming 50 MB each way');
  const file = path.join(work, 'upload.bin');
  const uploadSha = await makeUploadFile(file, STREAM_BYTES);
  const downloadSha = expectedDownloadSha256(STREAM_BYTES);
  const bareChild = bare.get(bestVariant)?.child;
  const streamVia = async (label: string, base: string, pid: number | undefined, target: boolean): Promise<StreamFigures> => {
    const idleRssMiB = pid === undefined ? NaN : await rssMiB(pid);
    const up = await upload(client, base, file, STREAM_BYTES, uploadSha, pid);
    const down = await download(client, base, STREAM_BYTES, downloadSha, pid);
    return { label, idleRssMiB, up, down, target };
  };
  const streams = [
    await streamVia('keepd gateway (passthrough, bodyLimit -1)', `https://127.0.0.1:${keepdPass.port}`, keepdPass.child.pid, true),
    await streamVia(`${baseline.label} (reference)`, baseline.url.replace('/hello', ''), bareChild?.pid, false),
    await streamVia('upstream direct (reference; RSS of the stand-in)', upstream, standIn.pid, false),
  ];
  const keepdWarnings = [keepdLog(keepdPass.child), keepdLog(keepdFunc.child)].join('').split('\n').filter((l) => /"level":\s*(50|60)/.test(l));
  for (const child of [...children].reverse()) await stopChild(child);

  // --- report -------------------------------------------------------------------------------
  const rps = (key: string): number => median(rows.get(key)?.rps ?? []);
  const p99 = (key: string): number => median(rows.get(key)?.p99 ?? []);
  const ratios: Report['ratios'] = [
    { name: 'keepd passthrough / bare Node proxy, requests/s', value: rps('keepd-pass') / rps('bare'), target: '>= 0.9', met: rps('keepd-pass') / rps('bare') >= 0.9 },
    { name: 'keepd passthrough / nginx proxy_pass, requests/s', value: rps('keepd-pass') / rps('nginx-proxy'), target: '>= 0.4 (goal 1.0)', met: withNginx ? rps('keepd-pass') / rps('nginx-proxy') >= 0.4 : undefined },
    { name: 'keepd functional / nginx auth_basic + proxy_pass, requests/s', value: rps('keepd-func') / rps('nginx-auth'), target: '>= 1.0', met: withNginx ? rps('keepd-func') / rps('nginx-auth') >= 1 : undefined },
    { name: 'p99 keepd passthrough / p99 nginx proxy_pass', value: p99('keepd-pass') / p99('nginx-proxy'), target: '<= 3', met: withNginx ? p99('keepd-pass') / p99('nginx-proxy') <= 3 : undefined },
    { name: 'p99 keepd functional / p99 nginx auth_basic + proxy_pass', value: p99('keepd-func') / p99('nginx-auth'), target: '<= 3', met: withNginx ? p99('keepd-func') / p99('nginx-auth') <= 3 : undefined },
    { name: 'keepd functional / keepd passthrough, requests/s (cost of the cached credential)', value: rps('keepd-func') / rps('keepd-pass'), target: '', met: undefined },
    { name: 'bare Node proxy / upstream direct, requests/s', value: rps('bare') / rps('upstream'), target: '', met: undefined },
    { name: 'nginx proxy_pass / upstream direct, requests/s', value: rps('nginx-proxy') / rps('upstream'), target: '', met: undefined },
  ];
  const keepdStream = streams[0];
  const streamOk = keepdStream !== undefined && keepdStream.up.ok && keepdStream.down.ok;
  const maxRss = Math.max(keepdStream?.up.maxRssMiB ?? NaN, keepdStream?.down.maxRssMiB ?? NaN);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const noise = Math.max(0, otherWork());
  const report: Report = {
    machine: `Machine: ${cpus().length} cores (${cpu}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${canPin ? 'every server (upstream included) pinned to core 0, wrk and curl to core 1 (taskset)' : 'not pinned'}; ${RUNS} runs of ${SECONDS} s each, alternating between the servers, after a 2 s warm-up; wrk -t1 -c32; medians, ± the largest deviation from the median. Other processes on the machine used ${fmt(noise, 2)} of its ${cpus().length} cores on average during the run (noise in these figures).`,
    rows: subjects.map((s) => rows.get(s.key) ?? { key: s.key, label: s.label, rps: [], p99: [], notes: [] }).map((r) => (r.key === 'bare' ? { ...r, label: `${r.label}: the baseline` } : r)),
    variants: [...picked.values()].map((r) => ({ label: r.label, rps: median(r.rps), p99: median(r.p99), kept: r.key === best.key })),
    ratios: ratios.filter((r) => withNginx || !r.name.includes('nginx')),
    streams,
    targets: [
      ...ratios.filter((r) => r.met !== undefined).map((r) => ({ name: `${r.name} ${r.target}`, met: r.met === true, measured: fmt(r.value, 2) })),
      { name: '50 MB streamed each way through keepd, RSS < 150 MB', met: streamOk && maxRss < 150, measured: `max ${fmt(maxRss, 1)} MiB${streamOk ? '' : `; ${keepdStream?.up.problem ?? ''} ${keepdStream?.down.problem ?? ''}`}` },
      { name: 'both transfers intact (sha256 end to end)', met: streamOk, measured: streamOk ? 'upload and download sha256 match' : 'see the streaming table' },
    ],
    notes: [
      ...(noise > 0.25 ? [`other processes took ${fmt(noise, 2)} cores during this run: the figures are noisy; run again on a quiet machine.`] : []),
      ...[...rows.values()].flatMap((r) => r.notes.map((n) => `${r.label}: ${n}`)),
      ...keepdWarnings.map((line) => `keepd logged: ${line}`),
    ],
  };
  const table = renderReport(report);
  console.log(table);
  if (options.save) {
    const doc = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
    await saveReport(doc, table);
    log(`wrote ${doc}`);
  }
  process.exitCode = report.targets.every((t) => t.met) ? 0 : 1;
} finally {
  for (const child of [...children].reverse()) await stopChild(child).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
