/**
 * How long from writing a file in keepconfig.d to the new account being accepted.
 *
 * For each edit, a fresh account is written (its secret salted beforehand, so salting is not
 * counted) and the health listener is asked with its credentials until it answers 200. Baseline in
 * the same run: the same edit applied by an explicit POST /reload, without the watcher's debounce.
 * Each refused probe costs one PBKDF2 (~10 ms), so figures are good to about 10 ms.
 *
 *   npm run bench:reload -- [edits=40]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSecret } from '../src/accounts/secret.js';
import { spawnKeepd, summarize, TLS_FIXTURES } from './lib/spawn-keepd.js';

const edits = Number(process.argv[2] ?? 40);
const ca = readFileSync(path.join(TLS_FIXTURES, 'ca.cert.pem'));
const agent = new Agent({ keepAlive: true, ca, maxSockets: 1 });

function status(url: string, user: string, password: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, servername: 'localhost', headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function acceptedAfter(url: string, user: string, password: string, started: number): Promise<number> {
  while ((await status(url, user, password)) !== 200) {
    if (performance.now() - started > 10_000) throw new Error(`${user} not accepted within 10 s`);
  }
  return performance.now() - started;
}

const dir = await mkdtemp(path.join(tmpdir(), 'keepd-latency-'));
const admin = ['admin', 'admin-pw'] as const;
await writeFile(path.join(dir, 'base.json'), JSON.stringify({
  HOST: '127.0.0.1', PORT: 0, HEALTHCHECKPORT: 0, MANAGMENTPORT: 0, METRICSPORT: 0,
  TLSType: 'pem', TLSFile: path.join(TLS_FIXTURES, 'server.key.pem'), PEMCert: path.join(TLS_FIXTURES, 'server.chain.pem'),
  identity: { managementAPI: { [admin[0]]: { active: true, secret: await createSecret(admin[1]) } } },
}));
const accounts = await Promise.all(Array.from({ length: edits * 2 }, async (_, i) => ({ user: `user-${i}`, password: `pw-${i}`, secret: await createSecret(`pw-${i}`) })));

async function run(watch: boolean, batch: typeof accounts): Promise<number[]> {
  await writeFile(path.join(dir, 'watch.json'), JSON.stringify({ watch: { enabled: watch } }));
  await rm(path.join(dir, 'zz-latency.json'), { force: true });
  const keepd = await spawnKeepd(dir);
  const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
  const reload = `https://127.0.0.1:${keepd.ports.management ?? 0}/reload`;
  const samples: number[] = [];
  try {
    for (const account of batch) {
      const started = performance.now();
      await writeFile(path.join(dir, 'zz-latency.json'), JSON.stringify({ identity: { healthcheckAPI: { [account.user]: { active: true, secret: account.secret } } } }));
      if (!watch) await status(reload, admin[0], admin[1], 'POST');
      samples.push(await acceptedAfter(health, account.user, account.password, started));
      await new Promise((resolve) => setTimeout(resolve, 150)); // let the next edit start a fresh burst
    }
  } finally {
    await keepd.stop();
  }
  return samples;
}

const watched = summarize(await run(true, accounts.slice(0, edits)));
const explicit = summarize(await run(false, accounts.slice(edits)));
agent.destroy();
await rm(dir, { recursive: true, force: true });

const row = (name: string, s: ReturnType<typeof summarize>): string =>
  `${name.padEnd(34)} ${String(s.n).padStart(5)} ${s.min.toFixed(0).padStart(7)} ${s.median.toFixed(0).padStart(8)} ${s.p90.toFixed(0).padStart(7)} ${s.max.toFixed(0).padStart(8)}`;
console.log(`file write -> new account accepted (ms), ${new Date().toISOString()}, node ${process.version}`);
console.log(`${'path'.padEnd(34)} ${'edits'.padStart(5)} ${'min'.padStart(7)} ${'median'.padStart(8)} ${'p90'.padStart(7)} ${'worst'.padStart(8)}`);
console.log(row('watcher (debounce 75 ms)', watched));
console.log(row('baseline: write + POST /reload', explicit));
console.log(`ratio watcher/baseline: median ${(watched.median / explicit.median).toFixed(2)}, worst ${(watched.max / explicit.max).toFixed(2)}`);
const ok = watched.median < 300 && watched.max < 1000;
console.log(`target median < 300 ms, worst < 1000 ms: ${ok ? 'met' : 'MISSED'}`);
process.exitCode = ok ? 0 : 1;
