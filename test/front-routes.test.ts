import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInDefaults } from '../src/config/defaults.js';
import { frontProblems, frontWarnings, hostMatches, matchRoute, pathMatches, requestHost, resolveFrontRoutes, type FrontRoute } from '../src/config/front-routes.js';
import { resolveListenerSettings } from '../src/config/listener-settings.js';
import { explainListenError } from '../src/listeners/bind-address.js';
import { validateConfig, type KeepConfig } from '../src/config/schema.js';
import { mergeLayers } from '../src/config/merge.js';
import type { JsonObject } from '../src/config/json.js';

/** The defaults with `over` merged on top, as a load merges a file over them. */
const merged = (over: JsonObject): JsonObject => mergeLayers([{ source: 'default', data: builtInDefaults() }, { source: 'test.json', data: over }]).config;

/** A configuration as a load validates it. */
function config(over: JsonObject): KeepConfig {
  const validation = validateConfig(merged(over), {});
  if (!validation.ok) throw new Error(validation.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return validation.config;
}

const front = (routes: object[], extra: JsonObject = {}): JsonObject => ({ listeners: { front: { enabled: true, routes, ...extra } } }) as JsonObject;

describe('requestHost(authority): the host a request names', () => {
  const cases: [string | undefined, string | undefined][] = [
    ['keep.example.com', 'keep.example.com'],
    ['Keep.Example.COM:443', 'keep.example.com'],
    ['keep.example.com.', 'keep.example.com'],
    ['keep.example.com.:8443', 'keep.example.com'],
    ['127.0.0.1:8443', '127.0.0.1'],
    ['[::1]:8443', '[::1]'],
    ['[::1]', '[::1]'],
    ['', ''],
    [undefined, ''],
    ['internal_name:81', 'internal_name'],
    // No host name: refused (400), never matched against a wildcard or passed on.
    ['evil/x.example.com', undefined],
    ['evil:1#x.example.com', undefined],
    ['a b.example.com', undefined],
    ['x.example.com:99999999', undefined],
    ['[::1', undefined],
    ['-x.example.com', undefined],
  ];
  for (const [authority, host] of cases) it(`${String(authority)} -> ${host === undefined ? 'invalid' : host || "''"}`, () => assert.equal(requestHost(authority), host));
});

describe('hostMatches(pattern, host)', () => {
  const cases: [string, string, boolean][] = [
    ['keep.example.com', 'keep.example.com', true],
    ['keep.example.com', 'domino.example.com', false],
    ['*.example.com', 'keep.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'evilexample.com', false],
  ];
  for (const [pattern, host, expected] of cases) it(`${pattern} ~ ${host}: ${expected}`, () => assert.equal(hostMatches(pattern, host), expected));
});

describe('pathMatches(prefix, target): whole segments only', () => {
  const cases: [string, string, boolean][] = [
    ['/api', '/api', true],
    ['/api', '/api/', true],
    ['/api', '/api/v1/auth', true],
    ['/api', '/api?x=1', true],
    ['/api', '/apis', false],
    ['/api', '/ap', false],
    ['/api', '/API', false],
    ['/admin/ui', '/admin/ui/index.html', true],
    ['/admin/ui', '/admin', false],
  ];
  for (const [prefix, target, expected] of cases) it(`${prefix} ~ ${target}: ${expected}`, () => assert.equal(pathMatches(prefix, target), expected));
});

describe('matchRoute(routes, host, target): the first match wins', () => {
  const routes = resolveFrontRoutes(
    config(
      front([
        { host: 'keep.example.com', path: '/metrics', to: 'metrics' },
        { host: 'keep.example.com', to: 'data' },
        { host: '*.example.com', path: '/health/', to: 'health' },
        { path: '/api', to: 'data' },
        { path: '/', to: 'http://127.0.0.1:81' },
      ]),
    ),
  );
  const cases: [string, string, string | undefined][] = [
    ['keep.example.com', '/metrics', 'metrics'],
    ['keep.example.com', '/metrics/x', 'metrics'],
    ['keep.example.com', '/health', 'data'],
    ['other.example.com', '/health', 'health'],
    ['other.example.com', '/healthz', 'http://127.0.0.1:81'],
    ['localhost', '/api/v1/auth', 'data'],
    ['localhost', '/anything', 'http://127.0.0.1:81'],
  ];
  const name = (route: FrontRoute | undefined): string | undefined => (route === undefined ? undefined : route.target.kind === 'listener' ? route.target.name : route.target.origin);
  for (const [host, target, expected] of cases) it(`${host} ${target} -> ${String(expected)}`, () => assert.equal(name(matchRoute(routes, host, target)), expected));

  it('no route matches: undefined (the front answers 404)', () => {
    const only = resolveFrontRoutes(config(front([{ path: '/api', to: 'data' }])));
    assert.equal(matchRoute(only, 'localhost', '/metrics'), undefined);
    assert.equal(matchRoute(only, 'localhost', '/'), undefined);
  });
});

describe('the schema of listeners.front.routes', () => {
  const problems = (routes: object[]): string[] => {
    const validation = validateConfig(merged(front(routes)), {});
    return validation.ok ? [] : validation.problems.map((p) => `${p.path}: ${p.message}`);
  };
  const cases: [string, object, RegExp | undefined][] = [
    ['a listener', { path: '/api', to: 'data' }, undefined],
    ['an upstream URL', { to: 'https://domino.internal:8443' }, undefined],
    ['a host only', { host: '*.example.com', to: 'health' }, undefined],
    ['the front listener itself', { to: 'front' }, /routes\[0\]\.to: expected one of "data", "health", "management", "metrics", or an upstream URL/],
    ['an upstream URL with a path', { to: 'http://127.0.0.1:81/names.nsf' }, /routes\[0\]\.to: expected/],
    ['a path without a slash', { path: 'api', to: 'data' }, /routes\[0\]\.path: expected a path such as "\/api"/],
    ['a dot segment', { path: '/api/../metrics', to: 'data' }, /without \. or \.\. segments/],
    ['an encoded dot segment', { path: '/api/%2E%2e/metrics', to: 'data' }, /without \. or \.\. segments/],
    ['a query', { path: '/api?x', to: 'data' }, /routes\[0\]\.path/],
    ['an IP literal as host', { host: '10.0.0.1', to: 'data' }, /routes\[0\]\.host: expected .*not an IP address/],
    ['no target', { path: '/api' }, /routes\[0\]\.to: expected/],
  ];
  for (const [what, route, expected] of cases) {
    it(`${what}: ${expected ? 'refused' : 'accepted'}`, () => {
      const found = problems([route]);
      if (expected === undefined) assert.deepEqual(found, []);
      else assert.ok(found.some((p) => expected.test(p)), found.join('\n'));
    });
  }
});

describe('frontProblems and frontWarnings: what stops or worries a front listener', () => {
  const check = (over: JsonObject): { problems: string[]; warnings: string[] } => {
    const c = config(over);
    const settings = resolveListenerSettings(c, '/tmp');
    const routes = resolveFrontRoutes(c);
    return { problems: frontProblems(settings.front, routes, settings).map((n) => `${n.path.join('.')}: ${n.message}`), warnings: frontWarnings(settings.front, routes) };
  };

  it('a disabled front listener: nothing, whatever its routes', () => {
    assert.deepEqual(check({ listeners: { front: { enabled: false, routes: [] } } }), { problems: [], warnings: [] });
  });
  it('enabled without routes: refused (it would answer 404 to everything)', () => {
    assert.match(check(front([])).problems.join(), /listeners\.front\.routes: is empty/);
  });
  it('a route to a listener that is off: refused, naming the route and the way out', () => {
    const { problems } = check({ ...front([{ path: '/health', to: 'health' }]), listeners: { front: { enabled: true, routes: [{ path: '/health', to: 'health' }] }, health: { enabled: false } } });
    assert.match(problems.join(), /listeners\.front\.routes\.0\.to: routes to the health listener, which is off/);
  });
  it('a route to metrics with metrics.enabled false: refused, saying which switch', () => {
    const { problems } = check({ ...front([{ path: '/metrics', to: 'metrics' }]), metrics: { enabled: false } });
    assert.match(problems.join(), /set metrics\.enabled/);
  });
  it('an upstream on the front port itself: refused, however the address is written', () => {
    for (const to of ['http://127.0.0.1:8443', 'http://[::ffff:127.0.0.1]:8443', 'http://localhost:8443', 'http://[::1]:8443']) {
      assert.match(check(front([{ to }], { port: 8443 })).problems.join(), /points at the front listener's own port 8443/, to);
    }
    assert.deepEqual(check(front([{ to: 'http://127.0.0.1:8444' }], { port: 8443 })).problems, []);
  });
  it('an upstream on one of this machine\'s addresses, the front on all interfaces: refused', () => {
    const c = config(front([{ to: 'http://192.0.2.10:8443' }], { port: 8443 }));
    const settings = resolveListenerSettings(c, '/tmp');
    const routes = resolveFrontRoutes(c);
    assert.equal(frontProblems(settings.front, routes, settings, ['192.0.2.10']).length, 1);
    assert.equal(frontProblems(settings.front, routes, settings, ['192.0.2.11']).length, 0);
  });
  it('the management listener on a public front port: a warning', () => {
    assert.match(check(front([{ path: '/admin/keepd', to: 'management' }])).warnings.join(), /routes\[0\] puts the management listener .* on the front port 443 of all interfaces/);
  });
  it('the management listener on a loopback front port: no warning', () => {
    assert.deepEqual(check(front([{ path: '/info', to: 'management' }], { HOST: '127.0.0.1' })).warnings, []);
  });
  it('a route no request can reach: a warning naming the route before it', () => {
    const { warnings } = check(front([{ path: '/api', to: 'data' }, { path: '/api/v1', to: 'health' }, { host: 'a.example.com', to: 'data' }, { host: 'a.example.com', path: '/x', to: 'health' }]));
    assert.deepEqual(warnings.filter((w) => /never used/.test(w)), [
      'listeners.front.routes[1] is never used: listeners.front.routes[0] before it matches everything it would',
      'listeners.front.routes[3] is never used: listeners.front.routes[2] before it matches everything it would',
    ]);
  });
  it('a plain-http upstream on another host: a warning', () => {
    assert.match(check(front([{ to: 'http://10.1.2.3:81' }])).warnings.join(), /in plain http/);
  });
});

describe('explainListenError: a front port below 1024 without the capability', () => {
  const settings = resolveListenerSettings(config(front([{ to: 'data' }])), '/tmp');
  const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:443'), { code: 'EACCES' });

  it('names the listener, the address, the port key and the capability', () => {
    const text = explainListenError(denied, settings.front, '0.0.0.0');
    assert.match(text, /^the front listener cannot listen on 0\.0\.0\.0:443: permission denied; ports below 1024 need root or the capability CAP_NET_BIND_SERVICE/);
    assert.match(text, /AmbientCapabilities=CAP_NET_BIND_SERVICE/);
    assert.match(text, /listeners\.front\.port/);
  });
  it('names the product\'s port key for the product\'s listeners', () => {
    assert.match(explainListenError(denied, { ...settings.health, port: 886 }, '::'), /cannot listen on \[::\]:886: .* with HEALTHCHECKPORT$/);
  });
});
