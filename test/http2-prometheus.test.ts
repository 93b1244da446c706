import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { FIXTURES } from './helpers/paths.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

const installed = spawnSync('prometheus', ['--version']).status === 0;

/** The scrape configuration an admin would write for keepd's metrics listener over TLS and HTTP/2. */
function prometheusConfig(metricsPort: number): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: keepd',
    '    scheme: https',
    '    enable_http2: true',
    '    tls_config:',
    `      ca_file: ${path.join(FIXTURES, 'tls', 'ca.cert.pem')}`,
    '      server_name: localhost',
    '    basic_auth:',
    `      username: ${USERS.metrics[0]}`,
    `      password: ${USERS.metrics[1]}`,
    '    static_configs:',
    `      - targets: ['127.0.0.1:${metricsPort}']`,
    '',
  ].join('\n');
}

describe('a real Prometheus scrapes the metrics listener over HTTP/2', { skip: !installed && !process.env.CI ? 'prometheus not installed (Debian: prometheus); CI installs it' : false }, () => {
  let keepd: KeepdProcess;
  let prometheus: ChildProcess | undefined;
  let api = '';

  before(async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': { ...TEST_BASE, LOG_LEVEL: 'debug' }, 'tls.json': TLS_CONFIGS.pem });
    keepd = await startKeepd(dir);
    const work = await tempDir({ 'prometheus.yml': prometheusConfig(keepd.ports.metrics ?? 0) });
    const webPort = await freePort();
    api = `http://127.0.0.1:${webPort}/api/v1`;
    prometheus = spawn('prometheus', [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: 'ignore' });
  });
  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    await keepd.stop();
  });

  it('keepd logs the scrape as HTTP/2 from the metrics account, and Prometheus has keepd\'s series', async () => {
    const scrape = await keepd.waitForLog((line) => line.msg === 'request' && line.listener === 'metrics' && line.path === '/metrics', 30_000);
    assert.deepEqual([scrape.http, scrape.status, scrape.account], ['2.0', 200, USERS.metrics[0]]);
    // What Prometheus made of it: the target up, and keepd's own series stored.
    await eventually(async () => {
      const query = async (expression: string): Promise<string | undefined> => {
        const answer = await request(`${api}/query?query=${encodeURIComponent(expression)}`);
        const body = answer.json() as { data?: { result?: { value: [number, string] }[] } };
        return body.data?.result?.[0]?.value[1];
      };
      assert.equal(await query('up{job="keepd"}'), '1');
      assert.equal(await query('keepd_listener_up{listener="metrics"}'), '1');
    }, 20_000, 250);
  });
});
