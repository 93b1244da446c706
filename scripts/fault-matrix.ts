/**
 * The fault matrix: what a careless admin and a hostile network did to keepd (issue "hostile files
 * and hostile peers"), each case driven against a real keepd on loopback. One line per case:
 * expected, observed, verdict. Exit code 1 when a case fails.
 *
 *   npm run bench:hostile            (prints the table)
 *   npm run bench:hostile -- --save  (also writes docs/fault-matrix.md)
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:https';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createSecret } from '../src/accounts/secret.js';
import { ACCOUNTS, call, cli, configDir, health, Keepd, reload } from './lib/matrix-keepd.js';
import { REPO_ROOT } from './lib/spawn-keepd.js';

const { values: options } = parseArgs({ options: { save: { type: 'boolean', default: false } } });

interface Case {
  name: string;
  expected: string;
  run: () => Promise<{ observed: string; pass: boolean }>;
}

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;
const stale = async (keepd: Keepd): Promise<boolean> => (json((await health(keepd)).body) as { components: { config: { stale: boolean } } }).components.config.stale;
const problemsOf = (answer: { body: string }): string => JSON.stringify(json(answer.body).problems ?? json(answer.body).errors ?? '');
const account = async (name: string, password: string): Promise<string> => JSON.stringify({ identity: { healthcheckAPI: { [name]: { active: true, secret: await createSecret(password) } } } });

async function withKeepd<T>(dir: string, body: (keepd: Keepd) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const keepd = await Keepd.start(dir, { env });
  try {
    return await body(keepd);
  } finally {
    await keepd.stop();
  }
}

/** The worst-case delay of cached /health requests sent every 5 ms on one kept-alive connection while `work` runs. */
async function delayDuring(keepd: Keepd, work: () => Promise<unknown>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  await call(keepd.url('health', '/health'), { auth: ACCOUNTS.health, agent }); // cached, connected
  const state = { running: true, worst: 0 };
  const probe = (async () => {
    while (state.running) {
      state.worst = Math.max(state.worst, (await call(keepd.url('health', '/health'), { auth: ACCOUNTS.health, agent })).ms);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  await work();
  state.running = false;
  await probe;
  agent.destroy();
  return state.worst;
}

const CASES: Case[] = [
  {
    name: 'H1 dangling *.json symlink',
    expected: 'reload refused naming the link; TLS stays',
    run: async () => {
      const dir = await configDir({}, { watch: { enabled: false } });
      return withKeepd(dir, async (keepd) => {
        await symlink('/nonexistent/target.json', path.join(dir, 'zz-link.json'));
        const answer = await reload(keepd);
        const named = problemsOf(answer).includes('zz-link.json');
        return { observed: `reload ${answer.status}, names the link: ${named}, https /health ${(await health(keepd)).status}`, pass: answer.status === 422 && named && (await health(keepd)).status === 200 };
      });
    },
  },
  {
    name: 'H1 TLS config removed, then put back',
    expected: 'refused in the gap (TLS kept, stale); noticed when back',
    run: async () => {
      const dir = await configDir();
      return withKeepd(dir, async (keepd) => {
        const tls = path.join(dir, 'tls.json');
        const saved = JSON.stringify({ TLSType: 'pem', TLSFile: 'server.key.pem', PEMCert: 'server.chain.pem' });
        await unlink(tls);
        const refused = await keepd.next((line) => /^configuration refused \(watch/.test(line.msg));
        const served = (await health(keepd)).status;
        const wasStale = await stale(keepd);
        await writeFile(tls, saved);
        await keepd.next((line) => /generation 1 again/.test(line.msg));
        const observed = `refused: ${/never turns TLS off/.test(JSON.stringify(refused.problems))}, https /health ${served}, stale ${wasStale}, then stale ${await stale(keepd)}`;
        return { observed, pass: served === 200 && wasStale && !(await stale(keepd)) };
      });
    },
  },
  {
    name: 'H2 50 MB config file',
    expected: 'refused naming file and size; keepd stays up',
    run: async () => {
      const dir = await configDir({}, { watch: { enabled: false } });
      return withKeepd(dir, async (keepd) => {
        await writeFile(path.join(dir, 'zz-huge.json'), `{"x": "${'a'.repeat(50 * 1024 * 1024)}"}`);
        const answer = await reload(keepd);
        const text = problemsOf(answer);
        return { observed: `reload ${answer.status} in ${Math.round(answer.ms)} ms: ${text.slice(0, 90)}`, pass: answer.status === 422 && text.includes('zz-huge.json') && (await health(keepd)).status === 200 };
      });
    },
  },
  {
    name: 'H2 event loop during the reload of a file at the size limit',
    expected: 'a cached request waits < 100 ms',
    run: async () => {
      const dir = await configDir({}, { watch: { enabled: false } });
      return withKeepd(dir, async (keepd) => {
        // Just under the value limit per file (25,000): the most work one accepted file may ask for.
        const keys = Object.fromEntries(Array.from({ length: 24_900 }, (_, i) => [`k${i}`, i]));
        await writeFile(path.join(dir, 'zz-big.json'), JSON.stringify({ many: keys }));
        let status = 0;
        const worst = await delayDuring(keepd, async () => (status = (await reload(keepd)).status));
        return { observed: `reload ${status}; worst cached /health ${worst.toFixed(1)} ms`, pass: status === 200 && worst < 100 };
      });
    },
  },
  {
    name: 'M3 TLSFile is a FIFO',
    expected: 'refused quickly; next good reload applies; SIGTERM exits 0',
    run: async () => {
      const dir = await configDir({}, { watch: { enabled: false } });
      const keepd = await Keepd.start(dir);
      execFileSync('mkfifo', [path.join(dir, 'fifo.key')]);
      await writeFile(path.join(dir, 'tls.json'), JSON.stringify({ TLSType: 'pem', TLSFile: 'fifo.key', PEMCert: 'server.chain.pem' }));
      const first = await reload(keepd);
      await writeFile(path.join(dir, 'tls.json'), JSON.stringify({ TLSType: 'pem', TLSFile: 'server.key.pem', PEMCert: 'server.chain.pem', drainTimeoutSeconds: 2 }));
      const second = await reload(keepd);
      const code = await keepd.stop();
      await unlink(path.join(dir, 'fifo.key'));
      return { observed: `FIFO reload ${first.status} in ${Math.round(first.ms)} ms; fixed reload ${second.status}; exit ${code}`, pass: first.status === 422 && first.ms < 5000 && second.status === 200 && code === 0 };
    },
  },
  {
    name: 'M3 x.json is a FIFO (keepd check)',
    expected: 'exit 2 at once, naming it',
    run: async () => {
      const dir = await configDir();
      execFileSync('mkfifo', [path.join(dir, 'x.json')]);
      const run = cli(['check', '--config-dir', dir]);
      await unlink(path.join(dir, 'x.json'));
      return { observed: `exit ${String(run.code)} in ${Math.round(run.ms)} ms: ${run.stderr.split('\n')[1]?.trim().slice(0, 80) ?? ''}`, pass: run.code === 2 && run.ms < 5000 && run.stderr.includes('x.json') };
    },
  },
  {
    name: 'M3 a second signal',
    expected: 'ends the process at once, whatever it waits for',
    run: async () => {
      const keepd = await Keepd.start(await configDir({}, { drainTimeoutSeconds: 60 }));
      const slow = connect({ host: '127.0.0.1', port: keepd.ports.management ?? 0 }); // an open connection keeps the drain waiting
      await new Promise((resolve) => slow.once('connect', resolve));
      keepd.child.kill('SIGTERM');
      await keepd.waitFor((line) => line.msg.startsWith('stopping (SIGTERM)'));
      const started = performance.now();
      keepd.child.kill('SIGTERM');
      const code = await keepd.exited;
      slow.destroy();
      return { observed: `exit ${code} ${Math.round(performance.now() - started)} ms after the second SIGTERM`, pass: code === 143 && performance.now() - started < 2000 };
    },
  },
  {
    name: 'M4 malformed requests at LOG_LEVEL trace',
    expected: 'no raw request bytes in the log',
    run: async () =>
      withKeepd(await configDir({}, { LOG_LEVEL: 'trace' }), async (keepd) => {
        const token = Buffer.from(`${ACCOUNTS.health[0]}:${ACCOUNTS.health[1]}`).toString('base64');
        for (const extra of ['X-Nul: a\u0000b', 'X-Folded: a\r\n  b']) {
          await new Promise<void>((resolve) => {
            const socket = tlsConnect({ host: '127.0.0.1', port: keepd.ports.health ?? 0, rejectUnauthorized: false }, () => socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${token}\r\n${extra}\r\n\r\n`, 'latin1'));
            socket.on('data', () => undefined).on('close', () => resolve()).on('error', () => resolve());
          });
        }
        await keepd.waitFor((line) => line.msg.startsWith('client error'));
        const bytes = [...Buffer.from(token)].join(',');
        const leaked = keepd.stdout.includes(token) || keepd.stdout.includes(bytes) || keepd.stdout.includes('rawPacket') || keepd.stdout.includes(ACCOUNTS.health[1]);
        return { observed: `client errors logged: ${keepd.logs.filter((l) => l.msg.startsWith('client error')).length}; credentials in any form: ${leaked}`, pass: !leaked };
      }),
  },
  {
    name: 'M5 configuration directory deleted and recreated',
    expected: 'watching resumes by itself',
    run: async () => {
      const dir = await configDir();
      const saved = await Promise.all(['base.json', 'tls.json', 'users.json', 'server.key.pem', 'server.chain.pem'].map(async (name) => [name, await readFile(path.join(dir, name))] as const));
      return withKeepd(dir, async (keepd) => {
        await rm(dir, { recursive: true });
        await keepd.next((line) => /^configuration refused \(watch/.test(line.msg));
        await mkdir(dir);
        for (const [name, content] of saved) await writeFile(path.join(dir, name), content);
        await writeFile(path.join(dir, 'late.json'), await account('late', 'late-pw'));
        await keepd.waitFor((line) => /^configuration generation 2 applied/.test(line.msg));
        const status = (await call(keepd.url('health', '/health'), { auth: ['late', 'late-pw'] })).status;
        return { observed: `an account added in the recreated directory logs in: ${status}; stale ${await stale(keepd)}`, pass: status === 200 && !(await stale(keepd)) };
      });
    },
  },
  {
    name: 'M6 first run cannot bind',
    expected: 'exit 1 with the passwords printed; next start reuses them',
    run: async () => {
      const dir = await mkdtempDir();
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const taken = (blocker.address() as AddressInfo).port;
      const env = { HOST: '127.0.0.1', PORT: '0', HEALTHCHECKPORT: String(taken), MANAGMENTPORT: '0', METRICSPORT: '0' };
      const first = await Keepd.start(dir, { env, expect: 0 });
      const code = await first.exited;
      blocker.close();
      const password = /^ {2}health +keepd-health +(\S+)$/m.exec(first.stdout)?.[1] ?? '';
      const second = await Keepd.start(dir, { env: { ...env, HEALTHCHECKPORT: '0' } });
      const ca = await readFile(path.join(dir, 'keepd-first-run.cert.pem'));
      const status = (await call(second.url('health', '/health'), { auth: ['keepd-health', password], ca }).catch(() => ({ status: 0 }))).status;
      await second.stop();
      return { observed: `first exit ${code}, password printed: ${password !== ''}; next start, that password: ${status}`, pass: code === 1 && password !== '' && status === 200 };
    },
  },
  {
    name: 'M7 HOST typo on a reload',
    expected: 'the old socket keeps serving; /health and /info show it',
    run: async () => {
      const port = await freePort();
      const dir = await configDir({ 'zz.json': { HEALTHCHECKPORT: port } }, { watch: { enabled: false } });
      return withKeepd(dir, async (keepd) => {
        await writeFile(path.join(dir, 'zz.json'), JSON.stringify({ HEALTHCHECKPORT: port, listeners: { health: { HOST: '192.0.2.77' } } }));
        const answer = await reload(keepd);
        const served = (await health(keepd)).status;
        const info = json((await call(keepd.url('management', '/info'), { auth: ACCOUNTS.management })).body) as { listeners: { health: { up: boolean } }; staleConfig: unknown };
        return { observed: `reload errors ${problemsOf(answer).slice(0, 60)}…; /health ${served}; up ${info.listeners.health.up}; staleConfig ${info.staleConfig === null ? 'null' : 'set'}`, pass: served === 200 && info.listeners.health.up && info.staleConfig !== null };
      });
    },
  },
  {
    name: 'M8 1030 idle connections from one address',
    expected: 'another client is still served',
    run: async () =>
      withKeepd(await configDir(), async (keepd) => {
        const sockets: Socket[] = [];
        for (let i = 0; i < 1030; i++) {
          const socket = connect({ host: '127.0.0.1', port: keepd.ports.health ?? 0 });
          socket.on('error', () => undefined);
          sockets.push(socket);
        }
        await Promise.all(sockets.map((s) => new Promise((resolve) => (s.readyState === 'open' ? resolve(null) : s.once('connect', resolve).once('close', resolve)))));
        const other = await call(keepd.url('health', '/health'), { auth: ACCOUNTS.health, localAddress: '127.0.0.2' });
        const open = sockets.filter((s) => !s.destroyed).length;
        for (const socket of sockets) socket.destroy();
        return { observed: `the other client: ${other.status} in ${Math.round(other.ms)} ms; attacker's connections still open: ${open}`, pass: other.status === 200 };
      }),
  },
  {
    name: 'M9 JSON nested 2000 levels',
    expected: 'check exits 2 naming the file; a running keepd refuses, visibly',
    run: async () => {
      const dir = await configDir({}, { watch: { enabled: false } });
      return withKeepd(dir, async (keepd) => {
        await writeFile(path.join(dir, 'zz-deep.json'), `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`);
        const check = cli(['check', '--config-dir', dir]);
        const answer = await reload(keepd);
        return { observed: `check exit ${String(check.code)} (names it: ${check.stderr.includes('zz-deep.json')}); reload ${answer.status}; stale ${await stale(keepd)}`, pass: check.code === 2 && check.stderr.includes('zz-deep.json') && answer.status === 422 && (await stale(keepd)) };
      });
    },
  },
  {
    name: 'M10 a file churned every 30 ms',
    expected: 'an account edit is applied within about a second',
    run: async () => {
      const dir = await configDir();
      return withKeepd(dir, async (keepd) => {
        const state = { churning: true };
        const churn = (async () => {
          for (let i = 0; state.churning; i++) {
            await writeFile(path.join(dir, '.users.json.swp'), String(i));
            await writeFile(path.join(dir, 'zz-churn.json'), JSON.stringify({ churn: i }));
            await new Promise((resolve) => setTimeout(resolve, 30));
          }
        })();
        const started = performance.now();
        await writeFile(path.join(dir, 'late.json'), await account('late', 'late-pw'));
        await keepd.next((line) => /applied \(watch/.test(line.msg) && JSON.stringify(line.origin).includes('late.json'));
        const ms = performance.now() - started;
        state.churning = false;
        await churn;
        return { observed: `applied after ${Math.round(ms)} ms while the churn went on`, pass: ms < 2000 };
      });
    },
  },
  {
    name: 'M11 10,000 accounts in one realm',
    expected: 'scan visible; a reload judges only what changed',
    run: async () => {
      const secret = await createSecret('one-shared-password-not-public');
      // 10,000 accounts in one realm, in three files (one file holds about 4,000: the size limit).
      const part = (from: number): object => ({ identity: { singleDbModeUsers: Object.fromEntries(Array.from({ length: 3334 }, (_, i) => [`user-${from + i}`, { active: true, secret }])) } });
      const dir = await configDir({ 'zz-many-1.json': part(0), 'zz-many-2.json': part(3334), 'zz-many-3.json': part(6668) }, { watch: { enabled: false } });
      const started = performance.now();
      return withKeepd(dir, async (keepd) => {
        const startMs = performance.now() - started;
        const during = json((await health(keepd)).body) as { components: { accounts: { scan: { state: string; checked: number; total: number } } } };
        await writeFile(path.join(dir, 'zz-many-4.json'), JSON.stringify({ identity: { singleDbModeUsers: { 'user-new': { active: true, secret: await createSecret('another-password-not-public') } } } }));
        let answer = { status: 0, ms: 0, body: '' };
        const worst = await delayDuring(keepd, async () => (answer = await reload(keepd)));
        const reloaded = performance.now();
        const scanState = async (): Promise<string> => (json((await health(keepd)).body) as { components: { accounts: { scan: { state: string } } } }).components.accounts.scan.state;
        while ((await scanState()) !== 'done' && performance.now() - reloaded < 30_000) await new Promise((resolve) => setTimeout(resolve, 50));
        const scanMs = performance.now() - reloaded;
        return {
          observed: `start ${Math.round(startMs)} ms; scan ${during.components.accounts.scan.state} ${during.components.accounts.scan.checked}/${during.components.accounts.scan.total}; one account added: reload ${answer.status} in ${Math.round(answer.ms)} ms (worst cached /health meanwhile ${worst.toFixed(0)} ms); scan done ${Math.round(scanMs)} ms later (one new secret judged)`,
          pass: during.components.accounts.scan.total >= 10_000 && scanMs < 5000 && worst < 100,
        };
      });
    },
  },
  {
    name: 'L  invalid UTF-8 in Basic credentials',
    expected: '401 (malformed), never a login',
    run: async () =>
      withKeepd(await configDir(), async (keepd) => {
        const status = await new Promise<number>((resolve, reject) => {
          const header = `Basic ${Buffer.concat([Buffer.from(`${ACCOUNTS.health[0]}:`), Buffer.from([0xff, 0xfe])]).toString('base64')}`;
          request(keepd.url('health', '/health'), { headers: { authorization: header }, rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject).end();
        });
        return { observed: `${status}`, pass: status === 401 };
      }),
  },
  {
    name: 'L  symlink loop named x.json',
    expected: 'noticed when it appears (refused) and when it goes',
    run: async () => {
      const dir = await configDir();
      return withKeepd(dir, async (keepd) => {
        await symlink('loop.json', path.join(dir, 'loop.json'));
        const refused = await keepd.next((line) => /^configuration refused \(watch/.test(line.msg));
        await unlink(path.join(dir, 'loop.json'));
        await keepd.next((line) => /generation 1 again/.test(line.msg));
        return { observed: `refused naming it: ${JSON.stringify(refused.problems).includes('loop.json')}; cleared when removed`, pass: JSON.stringify(refused.problems).includes('loop.json') };
      });
    },
  },
  {
    name: 'L  renamed away and back',
    expected: 'watching follows the directory',
    run: async () => {
      const dir = await configDir();
      return withKeepd(dir, async (keepd) => {
        await rename(dir, `${dir}.away`);
        await keepd.next((line) => /^configuration refused \(watch/.test(line.msg));
        await rename(`${dir}.away`, dir);
        await writeFile(path.join(dir, 'late.json'), await account('late', 'late-pw'));
        await keepd.waitFor((line) => /^configuration generation 2 applied/.test(line.msg));
        return { observed: 'edit after the return applied', pass: true };
      });
    },
  },
];

function mkdtempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'keepd-matrix-empty-'));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const rows: string[] = [];
let failed = 0;
for (const c of CASES) {
  let result: { observed: string; pass: boolean };
  try {
    result = await Promise.race([c.run(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no result within 90 s')), 90_000).unref())]);
  } catch (error) {
    result = { observed: `error: ${error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)}`, pass: false };
  }
  if (!result.pass) failed++;
  const row = `| ${c.name} | ${c.expected} | ${result.observed.replaceAll('|', '/')} | ${result.pass ? 'pass' : 'FAIL'} |`;
  rows.push(row);
  console.log(row);
}
const table = ['| case | expected | observed | verdict |', '|---|---|---|---|', ...rows].join('\n');
console.log(`\n${CASES.length - failed} passed, ${failed} failed`);
if (options.save) {
  const text = `# Fault matrix\n\nWritten by \`npm run bench:hostile -- --save\` (\`scripts/fault-matrix.ts\`) on ${new Date().toISOString().slice(0, 10)}: each case of the hostile-files-and-peers review, driven against a real keepd on loopback.\n\n${table}\n`;
  await writeFile(path.join(REPO_ROOT, 'docs', 'fault-matrix.md'), text);
}
process.exitCode = failed > 0 ? 1 : 0;
