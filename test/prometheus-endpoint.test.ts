import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { builtInDefaults } from '../src/config/defaults.js';
import { configSchema } from '../src/config/schema.js';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

describe('prometheusMetrics.enabled and prometheusMetrics.endpoint', () => {
  it('validate the endpoint as a path (table)', () => {
    const table: [unknown, boolean][] = [
      ['/metrics', true],
      ['/prometheus/scrape', true],
      ['/', false],
      ['metrics', false],
      ['', false],
      ['/a/../metrics', false],
      ['/metrics?x=1', false],
      ['http://x/metrics', false],
      [42, false],
    ];
    for (const [endpoint, ok] of table) {
      const parsed = configSchema.safeParse({ ...builtInDefaults(), prometheusMetrics: { enabled: true, endpoint } });
      assert.equal(parsed.success, ok, JSON.stringify(endpoint));
    }
    assert.deepEqual(builtInDefaults().prometheusMetrics, { enabled: true, endpoint: '/metrics' });
    assert.equal(configSchema.safeParse({ ...builtInDefaults(), prometheusMetrics: { enabled: 'no', endpoint: '/metrics' } }).success, false);
  });

  it('the scrape moves to the endpoint, and enabled false answers 404 while the listener keeps running (live, on reload)', async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'p.json': { prometheusMetrics: { endpoint: '/prometheus' } } });
    const keepd = await startKeepd(dir);
    const at = (p: string): string => `https://127.0.0.1:${keepd.ports.metrics ?? 0}${p}`;
    const reload = async (content: object): Promise<void> => {
      await writeFile(path.join(dir, 'p.json'), JSON.stringify(content));
      assert.equal((await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/reload`, { method: 'POST', auth: [...USERS.management] })).status, 200);
    };
    try {
      const scrape = await request(at('/prometheus?x=1'), { auth: [...USERS.metrics] });
      assert.equal(scrape.status, 200);
      assert.match(scrape.body, /^keepd_build_info/m);
      assert.equal((await request(at('/prometheus'), {})).status, 401, 'behind the realm');
      assert.equal((await request(at('/metrics'), { auth: [...USERS.metrics] })).status, 404);
      const index = await request(at('/'), { auth: [...USERS.metrics] });
      assert.equal(index.status, 200);
      assert.deepEqual(index.json(), { listener: 'metrics', routes: [{ method: 'GET', path: '/prometheus', description: 'Prometheus text format' }] });
      assert.equal((await request(at('/'), {})).status, 401, 'the index is behind the realm too');
      assert.equal((await request(at('/'), { auth: [...USERS.health] })).status, 401, 'and only the metrics realm');
      assert.equal((await request(at('/prometheus/'), { auth: [...USERS.metrics] })).status, 404);
      const routes = (await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/routes`, { auth: [...USERS.management] })).json() as Record<string, { method: string; url: string }[]>;
      assert.ok(routes.metrics?.some((route) => route.method === 'GET' && route.url === '/prometheus'), 'GET /routes shows the scrape path in use');

      await reload({ prometheusMetrics: { enabled: false } });
      const off = await request(at('/metrics'), { auth: [...USERS.metrics] });
      assert.equal(off.status, 404);
      assert.deepEqual((await request(at('/'), { auth: [...USERS.metrics] })).json(), { listener: 'metrics', routes: [], note: 'prometheusMetrics.enabled is false' });
      assert.match(off.body, /prometheusMetrics\.enabled is false/);
      const health = (await request(`https://127.0.0.1:${keepd.ports.health ?? 0}/health`, { auth: [...USERS.health] })).json() as { components: { listeners: Record<string, { status: string }> } };
      assert.equal(health.components.listeners.metrics?.status, 'ok', 'the metrics listener still runs');

      await reload({});
      assert.equal((await request(at('/metrics'), { auth: [...USERS.metrics] })).status, 200);
      assert.equal((await request(at('/prometheus'), { auth: [...USERS.metrics] })).status, 404);
    } finally {
      await keepd.stop();
    }
  });
});
