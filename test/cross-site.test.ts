import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crossSiteRefusal } from '../src/listeners/cross-site.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

describe('crossSiteRefusal(method, headers): a browser acting for another site', () => {
  const cases: [string, string, Record<string, string>, boolean][] = [
    ['a script (no Origin, no Sec-Fetch-Site)', 'POST', { host: 'keep:8889' }, false],
    ['the console itself', 'POST', { host: 'keep:8889', origin: 'https://keep:8889', 'sec-fetch-site': 'same-origin' }, false],
    ['typed into the address bar', 'POST', { host: 'keep:8889', 'sec-fetch-site': 'none' }, false],
    ['a GET from anywhere', 'GET', { host: 'keep:8889', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, false],
    ['another site', 'POST', { host: 'keep:8889', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, true],
    ['a sibling site', 'POST', { host: 'keep:8889', 'sec-fetch-site': 'same-site' }, true],
    ['another origin, an older browser', 'POST', { host: 'keep:8889', origin: 'https://keep:8890' }, true],
    ['a sandboxed page', 'POST', { host: 'keep:8889', origin: 'null' }, true],
    ['the same origin, the host in capitals', 'POST', { host: 'KEEP:8889', origin: 'https://keep:8889' }, false],
    ['HTTP/2: :authority', 'POST', { ':authority': 'keep:8889', origin: 'https://keep:8889' }, false],
  ];
  for (const [what, method, headers, refused] of cases) it(`${what}: ${refused ? 'refused' : 'goes on'}`, () => assert.equal(crossSiteRefusal(method, headers) !== undefined, refused));
});

describe('the management listener refuses cross-site actions', () => {
  let keepd: KeepdProcess;
  const url = (path: string): string => `https://127.0.0.1:${keepd.ports.management ?? 0}${path}`;
  before(async () => {
    const dir = await tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem });
    keepd = await startKeepd(dir);
  });
  after(async () => {
    await keepd.stop();
  });

  it('a POST another site makes a logged-in browser send: 403, and keepd keeps running', async () => {
    const forged = await request(url('/shutdown'), { method: 'POST', auth: [...USERS.management], headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    assert.equal(forged.status, 403);
    assert.match(forged.body, /cross-site request from a browser is refused/);
    assert.equal((await request(url('/info'), { auth: [...USERS.management] })).status, 200);
  });
  it('the same POST from the console\'s own origin, or from a script, goes on', async () => {
    const own = await request(url('/reload'), { method: 'POST', auth: [...USERS.management], headers: { origin: `https://127.0.0.1:${keepd.ports.management ?? 0}`, 'sec-fetch-site': 'same-origin' } });
    assert.equal(own.status, 200);
    assert.equal((await request(url('/reload'), { method: 'POST', auth: [...USERS.management] })).status, 200);
  });
});
