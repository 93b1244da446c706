import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { FIXTURES, REPO_ROOT } from './helpers/paths.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

/** The shipped files (deploy/prometheus, deploy/grafana), checked with Debian's prometheus and promtool. */
const PROMETHEUS_DIR = path.join(REPO_ROOT, 'deploy', 'prometheus');
const SCRAPE = path.join(PROMETHEUS_DIR, 'keepd-scrape.yml');
const RULES = path.join(PROMETHEUS_DIR, 'keepd-rules.yml');
const RULE_TESTS = path.join(PROMETHEUS_DIR, 'keepd-rules.test.yml');
const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'keepd-dashboard.json');

const installed = spawnSync('promtool', ['--version']).status === 0 && spawnSync('prometheus', ['--version']).status === 0;
const skip = !installed && !process.env.CI ? 'prometheus not installed (Debian: prometheus); CI installs it' : false;

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * prometheus.yml as an admin would assemble it: a global section, the shipped rules, and the
 * shipped scrape file (a top-level `scrape_configs:`), its placeholders rewritten for this host.
 */
async function prometheusYml(options: { target: string; passwordFile: string; interval: string }): Promise<string> {
  const scrape = (await readFile(SCRAPE, 'utf8'))
    .replace('keepd.example.com:8890', options.target)
    .replace('/etc/prometheus/keepd-metrics.password', options.passwordFile)
    .replace('/etc/prometheus/keepd-ca.pem', path.join(FIXTURES, 'tls', 'ca.cert.pem'))
    .replace('# server_name: keepd.example.com', 'server_name: localhost')
    .replace('username: prometheus', `username: ${USERS.metrics[0]}`)
    .replace(/scrape_interval: \S+/, `scrape_interval: ${options.interval}`)
    .replace(/scrape_timeout: \S+/, `scrape_timeout: ${options.interval}`);
  for (const placeholder of ['example.com', '/etc/prometheus']) assert.ok(!scrape.includes(placeholder), `placeholder ${placeholder} left in:\n${scrape}`);
  return [`global:`, `  scrape_interval: ${options.interval}`, `  evaluation_interval: ${options.interval}`, `rule_files:`, `  - ${RULES}`, scrape].join('\n');
}

/** Metric names referenced in PromQL text: keepd's, the product's, and prom-client's process ones. */
function referencedMetrics(text: string): Set<string> {
  return new Set(text.match(/\b(?:keepd?|process|nodejs)_[a-z0-9_]+\b/g) ?? []);
}

function dashboardExpressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'definition') && typeof value === 'string') found.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  return found;
}

/** Every alert name in the rules file. */
async function alertNames(): Promise<string[]> {
  return [...(await readFile(RULES, 'utf8')).matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1] ?? '');
}

describe('deploy/prometheus: promtool accepts the shipped files', { skip }, () => {
  it('promtool check config passes on a prometheus.yml made of the scrape file and the rules', async () => {
    const dir = await tempDir({ 'keepd-metrics.password': `${USERS.metrics[1]}\n` });
    const config = await prometheusYml({ target: '127.0.0.1:8890', passwordFile: path.join(dir, 'keepd-metrics.password'), interval: '15s' });
    await writeFile(path.join(dir, 'prometheus.yml'), config);
    const checked = promtool('check', 'config', path.join(dir, 'prometheus.yml'));
    assert.equal(checked.status, 0, checked.output);
    assert.match(checked.output, /SUCCESS: 9 rules found/);
    // The shipped file as it is also passes (it is valid on its own, as scrape_config_files wants).
    const alone = promtool('check', 'config', SCRAPE);
    assert.equal(alone.status, 0, alone.output);
  });

  it('the scrape file uses https, basic_auth with password_file, tls_config ca_file and HTTP/2', async () => {
    const text = await readFile(SCRAPE, 'utf8');
    for (const setting of [/scheme: https/, /enable_http2: true/, /password_file: /, /ca_file: /, /job_name: keepd/]) assert.match(text, setting);
    assert.doesNotMatch(text, /^\s*password: /m, 'no password in the scrape file itself');
  });

  it('promtool check rules passes, and every alert has a severity label and summary/description', async () => {
    const checked = promtool('check', 'rules', RULES);
    assert.equal(checked.status, 0, checked.output);
    const text = await readFile(RULES, 'utf8');
    const blocks = text.split(/^\s*- alert: /m).slice(1);
    assert.equal(blocks.length, 9);
    for (const block of blocks) {
      const name = block.split('\n')[0];
      assert.match(block, /severity: (critical|warning)/, `${name}: severity`);
      assert.match(block, /summary: /, `${name}: summary`);
      assert.match(block, /description: /, `${name}: description`);
    }
  });

  it('promtool test rules passes, with every alert tested firing and not firing', async () => {
    const tested = promtool('test', 'rules', RULE_TESTS);
    assert.equal(tested.status, 0, tested.output);
    assert.match(tested.output, /SUCCESS/);
    const tests = await readFile(RULE_TESTS, 'utf8');
    for (const alert of await alertNames()) {
      // Each eval of the alert: its exp_alerts list follows on the next line.
      const evals = [...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:( \\[\\])?`, 'g'))];
      assert.ok(evals.some((m) => m[1] !== undefined), `${alert}: a not-firing case (exp_alerts: [])`);
      assert.ok(evals.some((m) => m[1] === undefined), `${alert}: a firing case`);
    }
  });
});

describe('deploy/: the rules, the dashboard and a real Prometheus against a running keepd', { skip }, () => {
  let keepd: KeepdProcess;
  let configDir = '';
  let prometheus: ChildProcess | undefined;
  let api = '';

  const query = async (expression: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const answer = await request(`${api}/query?query=${encodeURIComponent(expression)}`);
    const body = answer.json() as { status: string; data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } };
    assert.equal(body.status, 'success', answer.body);
    return body.data?.result ?? [];
  };

  before(async () => {
    configDir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    keepd = await startKeepd(configDir);
  });
  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    await keepd.stop();
  });

  it('every metric the rules and the dashboard use is one keepd exports (a real scrape over TLS)', async () => {
    // Some traffic first, so that the request series and their histogram are there.
    await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
    const scrape = await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] });
    assert.equal(scrape.status, 200, scrape.body);
    const exported = new Set<string>();
    for (const line of scrape.body.split('\n')) {
      const name = /^# (?:HELP|TYPE) (\S+)/.exec(line)?.[1] ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
      if (!name) continue;
      exported.add(name);
      if (/^# TYPE \S+ histogram$/.test(line)) for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
    }
    assert.ok(exported.has('keepd_http_request_duration_seconds_bucket'));
    // Shown only in some states (a configured product upstream, a refused reload, a counter's first
    // inc): named in docs/endpoints.md and in the source, with their labels appearing on first use.
    const conditional = new Set(['keepd_upstream_up', 'keepd_upstream_probe_duration_seconds']);
    const rules = referencedMetrics(await readFile(RULES, 'utf8'));
    const dashboard = referencedMetrics(dashboardExpressions(JSON.parse(await readFile(DASHBOARD, 'utf8'))).join('\n'));
    assert.ok(rules.size >= 6 && dashboard.size >= 15, `${[...rules].join(' ')} / ${[...dashboard].join(' ')}`);
    const source = await readFile(path.join(REPO_ROOT, 'src', 'metrics', 'upstream-metrics.ts'), 'utf8');
    for (const name of conditional) assert.ok(source.includes(name), name);
    const unknown = [...rules, ...dashboard].filter((name) => !exported.has(name) && !conditional.has(name));
    assert.deepEqual(unknown, [], `not in keepd's /metrics:\n${scrape.body}`);
  });

  it('Prometheus scrapes keepd with the shipped scrape file and rules; a broken config file makes KeepdConfigStale pending', async () => {
    const work = await tempDir({ 'keepd-metrics.password': `${USERS.metrics[1]}\n` });
    await writeFile(path.join(work, 'prometheus.yml'), await prometheusYml({ target: `127.0.0.1:${keepd.ports.metrics ?? 0}`, passwordFile: path.join(work, 'keepd-metrics.password'), interval: '1s' }));
    const webPort = await freePort();
    api = `http://127.0.0.1:${webPort}/api/v1`;
    let output = '';
    prometheus = spawn('prometheus', [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-20_000)));

    await eventually(async () => {
      assert.equal((await query('up{job="keepd"}'))[0]?.value[1], '1', output);
    }, 30_000, 250);
    const rules = (await request(`${api}/rules`)).json() as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    assert.deepEqual(loaded.map((r) => r.name).sort(), (await alertNames()).sort());
    assert.ok(loaded.every((r) => r.health !== 'err'), JSON.stringify(loaded));
    // Nothing pending or firing against a healthy keepd with its own (non-public) passwords.
    assert.deepEqual(await query('ALERTS{job="keepd"}'), []);

    await writeFile(path.join(configDir, 'ports.json'), '{ "PORT": 0, ');
    await keepd.waitForLog((line) => /^configuration refused/.test(line.msg), 10_000);
    await eventually(async () => {
      const pending = await query('ALERTS{alertname="KeepdConfigStale", alertstate="pending"}');
      assert.equal(pending.length, 1, output);
      assert.equal(pending[0]?.metric.severity, 'warning');
    }, 30_000, 250);
    // The rest of keepd still answers (it serves the previous configuration): the target stays up.
    assert.equal((await query('up{job="keepd"}'))[0]?.value[1], '1');
  });
});
