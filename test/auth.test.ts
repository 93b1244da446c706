import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { functionalUsers, INACTIVE_PASSWORD, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

const PATHS = { data: '/api/whoami', health: '/health', management: '/info', metrics: '/metrics' } as const;
const REALMS = { data: 'singleDbModeUsers', health: 'healthcheckAPI', management: 'managementAPI', metrics: 'metricsAPI' } as const;
type Listener = keyof typeof PATHS;
const LISTENERS = Object.keys(PATHS) as Listener[];

describe('per-listener Basic auth', () => {
  let keepd: KeepdProcess;
  const url = (listener: Listener): string => `https://127.0.0.1:${keepd.ports[listener] ?? 0}${PATHS[listener]}`;

  before(async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    keepd = await startKeepd(dir, { env: { HEALTHCHECK_USER: 'k8s-probe', HEALTHCHECK_PASSWORD: 'from-a-k8s-secret' } });
  });
  after(() => keepd.stop());

  for (const listener of LISTENERS) {
    describe(`${listener} listener`, () => {
      it('accepts its own realm’s account', async () => {
        const response = await request(url(listener), { auth: [...USERS[listener]] });
        assert.equal(response.status, 200, response.body);
      });

      it('refuses wrong, unknown, inactive, cross-realm and missing credentials alike', async () => {
        const [user, password] = USERS[listener];
        const others = LISTENERS.filter((l) => l !== listener).map((l) => USERS[l]);
        const attempts: ([string, string] | undefined)[] = [
          [user, `${password}x`],
          [user, ''],
          ['nobody', password],
          ['retired', INACTIVE_PASSWORD],
          ...others.map(([u, p]): [string, string] => [u, p]),
          undefined,
        ];
        const bodies = new Set<string>();
        for (const auth of attempts) {
          const response = await request(url(listener), auth ? { auth } : {});
          assert.equal(response.status, 401, `${JSON.stringify(auth?.[0])} should get 401`);
          assert.equal(response.headers['www-authenticate'], `Basic realm="${REALMS[listener]}", charset="UTF-8"`);
          assert.match(String(response.headers['content-type']), /^application\/json/);
          bodies.add(response.body);
        }
        assert.equal(bodies.size, 1, `one body for every 401: ${[...bodies].join(' | ')}`);
      });
    });
  }

  it('takes account names verbatim', async () => {
    assert.equal((await request(url('management'), { auth: ['doctor notes', USERS.management[1]] })).status, 401);
    assert.equal((await request(url('management'), { auth: [' Doctor Notes', USERS.management[1]] })).status, 401);
  });

  it('accepts the HEALTHCHECK_USER/HEALTHCHECK_PASSWORD account on the health listener only', async () => {
    assert.equal((await request(url('health'), { auth: ['k8s-probe', 'from-a-k8s-secret'] })).status, 200);
    assert.equal((await request(url('metrics'), { auth: ['k8s-probe', 'from-a-k8s-secret'] })).status, 401);
    assert.equal((await request(url('health'), { auth: ['k8s-probe', 'wrong'] })).status, 401);
  });

  it('says who the data caller is', async () => {
    const whoami = await request(url('data'), { auth: [...USERS.data] });
    assert.deepEqual(whoami.json(), { name: 'John Doe', CN: 'CN=John Doe/O=Mauraders', realm: 'singleDbModeUsers' });
  });

  it('answers 401 before 404, so unauthenticated callers learn nothing about routes', async () => {
    const response = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/no/such/route`);
    assert.equal(response.status, 401);
    const known = await request(`https://127.0.0.1:${keepd.ports.management ?? 0}/no/such/route`, { auth: [...USERS.management] });
    assert.equal(known.status, 404);
    assert.equal((known.json() as { error: string }).error, 'Not Found');
  });

  it('counts every failed attempt in keep_unauthenticated_request_count_total by listener and reason', async () => {
    const metricsUrl = url('metrics');
    const read = async (): Promise<Map<string, number>> => {
      const text = (await request(metricsUrl, { auth: [...USERS.metrics] })).body;
      const counts = new Map<string, number>();
      for (const match of text.matchAll(/^keep_unauthenticated_request_count_total\{listener="(\w+)",reason="(\w+)"\} (\d+)$/gm)) {
        counts.set(`${match[1] ?? ''}/${match[2] ?? ''}`, Number(match[3]));
      }
      return counts;
    };
    const before = await read();
    await request(url('health'), { auth: ['nobody', 'x'] });
    await request(url('health'), { auth: [USERS.health[0], 'x'] });
    await request(url('health'), { auth: ['retired', INACTIVE_PASSWORD] });
    await request(url('health'));
    await request(url('health'), { headers: { authorization: 'Basic !!!' } });
    const afterward = await read();
    for (const reason of ['unknown_user', 'wrong_password', 'inactive', 'missing_credentials', 'malformed_credentials']) {
      const key = `health/${reason}`;
      assert.equal((afterward.get(key) ?? 0) - (before.get(key) ?? 0), 1, key);
    }
  });
});
