import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('health and metrics listeners', () => {
  let keepd: KeepdProcess;
  const health = (): string => `https://127.0.0.1:${keepd.ports.health ?? 0}/health`;
  const metrics = (): string => `https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`;

  before(async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    keepd = await startKeepd(dir);
  });
  after(() => keepd.stop());

  it('GET /health: 200 with one entry per listener, the config and each certificate', async () => {
    const response = await request(health(), { auth: [...USERS.health] });
    assert.equal(response.status, 200);
    const body = response.json() as {
      status: string;
      components: { config: { status: string; generation: number }; listeners: Record<string, { status: string; scheme: string; port: number }>; tls: Record<string, { status: string; daysUntilExpiry: number; subject: string }> };
    };
    assert.equal(body.status, 'ok');
    assert.deepEqual([body.components.config.status, body.components.config.generation], ['ok', 1]);
    for (const name of ['data', 'health', 'management', 'metrics']) {
      assert.deepEqual(body.components.listeners[name], { status: 'ok', scheme: 'https', port: keepd.ports[name as 'data'] });
      const tls = body.components.tls[name];
      assert.ok(tls);
      assert.equal(tls.status, 'ok');
      assert.equal(tls.subject, 'CN=keepd test server');
      assert.ok(tls.daysUntilExpiry > 300);
    }
  });

  it('GET / on the health listener: an index of its routes, behind its realm', async () => {
    const root = `https://127.0.0.1:${keepd.ports.health ?? 0}/`;
    const response = await request(root, { auth: [...USERS.health] });
    assert.equal(response.status, 200);
    const body = response.json() as { listener: string; routes: { method: string; path: string }[] };
    assert.equal(body.listener, 'health');
    assert.deepEqual(body.routes.map((r) => `${r.method} ${r.path}`), ['GET /health', 'GET /health/live', 'GET /health/ready']);
    assert.equal((await request(root, {})).status, 401);
    assert.equal((await request(root, { auth: [...USERS.metrics] })).status, 401);
    const scrapeIndex = await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/`, { auth: [...USERS.metrics] });
    assert.deepEqual(scrapeIndex.json(), { listener: 'metrics', routes: [{ method: 'GET', path: '/metrics', description: 'Prometheus text format' }] });
  });

  it('HEAD /health answers the status without a body', async () => {
    const response = await request(health(), { method: 'HEAD', auth: [...USERS.health] });
    assert.equal(response.status, 200);
    assert.equal(response.body, '');
  });

  it('GET /metrics exposes the documented metrics', async () => {
    await request(health(), { auth: ['nobody', 'x'] });
    const response = await request(metrics(), { auth: [...USERS.metrics] });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    for (const pattern of [
      /^keep_unauthenticated_request_count_total\{listener="health",reason="unknown_user"\} [1-9]/m,
      /^keepd_http_requests_total\{listener="health",route="\/health",method="GET",status="200"\} [1-9]/m,
      /^keepd_http_request_duration_seconds_bucket\{le="0\.005",listener="health",route="\/health",method="GET",status="200"\} \d+/m,
      /^keepd_listener_up\{listener="management"\} 1$/m,
      /^keepd_tls_certificate_expiry_timestamp_seconds\{listener="data"\} \d{10}$/m,
      /^keepd_config_generation 1$/m,
      /^keepd_config_last_load_timestamp_seconds \d+/m,
      /^keepd_build_info\{version="\d+\.\d+\.\d+",nodejs_version="v\d+/m,
      /^process_cpu_seconds_total \d/m,
      /^nodejs_eventloop_lag_seconds /m,
    ]) {
      assert.match(text, pattern);
    }
  });

  it('GET /metrics passes promtool check metrics', { skip: !promtool && !process.env.CI ? 'promtool not installed (Debian: prometheus); CI installs it' : false }, async () => {
    await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/info`, { auth: ['x', 'y'] });
    const text = (await request(metrics(), { auth: [...USERS.metrics] })).body;
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});

describe('switches and failures reported by /health and /metrics', () => {
  it('metrics.jvmMetricsEnabled (alias jvmMetricsEnabled) switches the process_/nodejs_ series; processMetricsEnabled is its keepd name', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'm.json': { metrics: { jvmMetricsEnabled: false } } });
    const keepd = await startKeepd(dir);
    const scrape = async (): Promise<string> => (await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] })).body;
    const reload = async (content: object): Promise<void> => {
      await writeFile(path.join(dir, 'm.json'), JSON.stringify(content));
      assert.equal((await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/restart`, { method: 'POST', auth: [...USERS.management] })).status, 200);
    };
    try {
      const text = await scrape();
      assert.match(text, /^keepd_build_info/m);
      assert.doesNotMatch(text, /^(process|nodejs)_/m);
      await reload({ metrics: { jvmMetricsEnabled: true } });
      assert.match(await scrape(), /^process_cpu_seconds_total/m);
      assert.match(await scrape(), /^nodejs_heap_size_used_bytes/m);
      await reload({ jvmMetricsEnabled: false });
      assert.doesNotMatch(await scrape(), /^(process|nodejs)_/m);
      await reload({ jvmMetricsEnabled: false, processMetricsEnabled: true });
      assert.match(await scrape(), /^process_cpu_seconds_total/m);
    } finally {
      await keepd.stop();
    }
  });

  it('"metrics": {"enabled": false} means no metrics listener', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'm.json': { metrics: { enabled: false } } });
    const keepd = await startKeepd(dir, { expect: 3 });
    try {
      assert.deepEqual(Object.keys(keepd.ports).sort(), ['data', 'health', 'management']);
      const body = (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).json() as { status: string; components: { listeners: Record<string, { status: string }> } };
      assert.equal(body.status, 'ok');
      assert.deepEqual(body.components.listeners.metrics, { status: 'disabled' });
    } finally {
      await keepd.stop();
    }
  });

  it('503 when an enabled listener is down', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const taken = typeof address === 'object' && address ? address.port : 0;
    // Not watched: the POST /restart below is what applies the change (a watcher would race it).
    const unwatched = { watch: { enabled: false } };
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'z-data.json': { ...unwatched, listeners: { data: { enabled: false } } } });
    const keepd = await startKeepd(dir, { expect: 3 });
    try {
      // Enable the data listener on a port someone else holds: the reload applies, the listener stays down.
      await writeFile(path.join(dir, 'z-data.json'), JSON.stringify({ ...unwatched, PORT: taken, listeners: { data: { enabled: true } } }));
      const restart = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/restart`, { method: 'POST', auth: [...USERS.management] });
      assert.equal(restart.status, 200);
      const outcome = restart.json() as { status: string; errors: string[] };
      assert.equal(outcome.status, 'applied');
      assert.match(outcome.errors.join('\n'), /the data listener cannot listen on 127\.0\.0\.1:\d+: the port is already in use/, 'the caller hears what failed');
      const response = await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] });
      assert.equal(response.status, 503);
      const body = response.json() as { status: string; components: { listeners: Record<string, { status: string }> } };
      assert.equal(body.status, 'failing');
      assert.equal(body.components.listeners.data?.status, 'failing');
      const text = (await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] })).body;
      assert.match(text, /^keepd_listener_up\{listener="data"\} 0$/m);
      assert.ok(keepd.logs.some((l) => l.level === 50 && l.msg.includes(`the data listener cannot listen on 127.0.0.1:${taken}: the port is already in use`)));
    } finally {
      await keepd.stop();
      blocker.close();
    }
  });
});
