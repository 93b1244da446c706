import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInDefaults } from '../src/config/defaults.js';
import type { ListenerLimits, ListenerSettings } from '../src/config/listener-settings.js';
import { FRONT_DEFAULT_PORT, isRealmListener, LISTENERS, perListener, type ListenerName } from '../src/config/listener-table.js';
import { validateConfig } from '../src/config/schema.js';
import type { PreparedListener } from '../src/listeners/prepared-listener.js';
import { plan, tlsRemovals, type NextListeners, type RunningListener } from '../src/runtime/plan.js';
import type { TlsMaterial } from '../src/tls/load-tls-material.js';
import type { TlsPolicy } from '../src/tls/tls-policy.js';

/** keepd's default limits, from the defaults layer as a load validates it. */
const LIMITS: ListenerLimits = (() => {
  const validation = validateConfig(builtInDefaults(), {});
  if (!validation.ok) throw new Error('the defaults do not validate');
  return validation.config.limits;
})();
const POLICY: TlsPolicy = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: 'A:B', warnings: [] };

function material(serial: string): TlsMaterial {
  return {
    options: {},
    digest: `digest-${serial}`,
    certificate: { subject: 'CN=x', issuer: 'CN=ca', subjectAltName: undefined, serialNumber: serial, fingerprint256: '', validFrom: '', validTo: '', validToMs: 0 },
  };
}

type Spec = { enabled?: boolean; port?: number; host?: string; tls?: string | null; http2?: boolean; acme?: boolean; limits?: Partial<ListenerLimits> };

const defaultPort = (name: ListenerName): number => (isRealmListener(name) ? LISTENERS[name].defaultPort : FRONT_DEFAULT_PORT);

function settings(name: ListenerName, spec: Spec): ListenerSettings {
  return {
    name,
    enabled: spec.enabled ?? name !== 'front',
    port: spec.port ?? defaultPort(name),
    host: spec.host ?? '127.0.0.1',
    realm: isRealmListener(name) ? LISTENERS[name].realm : undefined,
    http2: spec.http2 ?? true,
    tls: undefined,
    acme: spec.acme ?? false,
    tlsKeysAt: [],
    sni: [],
    limits: { ...LIMITS, ...spec.limits },
  };
}

function prepared(name: ListenerName, spec: Spec): PreparedListener {
  const tls = spec.tls === undefined ? 'serial-1' : spec.tls;
  return { settings: settings(name, spec), tls: tls === null ? undefined : material(tls), sni: [] };
}

/** The health listener as it runs (`running`: undefined means not running) and as the next configuration asks. */
function planHealth(running: Spec | undefined, next: Spec, policy: TlsPolicy = POLICY): string[] {
  const runningListeners: Partial<Record<ListenerName, RunningListener>> = {};
  for (const name of ['data', 'management', 'metrics', 'health'] as const) {
    const spec = name === 'health' ? running : { tls: null };
    if (spec) runningListeners[name] = { ...prepared(name, spec), policy: POLICY };
  }
  const nextListeners: NextListeners = { policy, listeners: perListener((name) => prepared(name, name === 'health' ? next : { tls: null })) };
  return plan(runningListeners, nextListeners).map((c) => `${c.name}: ${c.action} (${c.reason})`);
}

describe('plan(running, next): the socket work of a reload', () => {
  const cases: [string, Spec | undefined, Spec, string[], TlsPolicy?][] = [
    ['nothing changed', {}, {}, []],
    ['disabled while running: stop', {}, { enabled: false }, ['health: stop (disabled)']],
    ['disabled and not running: nothing', undefined, { enabled: false }, []],
    ['enabled and not running (or down after a failure): start', undefined, {}, ['health: start (enabled)']],
    ['new port: rebind', {}, { port: 9999 }, ['health: rebind (port 8886 -> 9999)']],
    ['new address: rebind', {}, { host: '::1' }, ['health: rebind (address 127.0.0.1 -> ::1)']],
    ['TLS on: rebind', { tls: null }, {}, ['health: rebind (TLS on)']],
    ['TLS off: rebind', {}, { tls: null }, ['health: rebind (TLS off)']],
    ['HTTP/2 off on a TLS listener: rebind (another kind of server)', {}, { http2: false }, ['health: rebind (http2 true -> false)']],
    ['HTTP/2 on on a TLS listener: rebind', { http2: false }, {}, ['health: rebind (http2 false -> true)']],
    ['http2 on a plain listener: nothing (HTTP/1.1 either way)', { tls: null }, { tls: null, http2: false }, []],
    ['TLS on wins over http2', { tls: null, http2: false }, {}, ['health: rebind (TLS on)']],
    ['a limit fixed at construction: rebind', {}, { limits: { maxHeaderBytes: 8192 } }, ['health: rebind (limits.maxHeaderBytes 16384 -> 8192)']],
    ['the body limit: rebind', {}, { limits: { maxBodyBytes: 1 } }, ['health: rebind (limits.maxBodyBytes 16384 -> 1)']],
    ['the handshake timeout: rebind', {}, { limits: { handshakeTimeoutMs: 500 } }, ['health: rebind (limits.handshakeTimeoutMs 10000 -> 500)']],
    ['a new certificate: swap TLS', {}, { tls: 'serial-2' }, ['health: swap-tls (certificate serial-2)']],
    ['policy only: swap TLS', {}, {}, ['health: swap-tls (TLS protocols or ciphers)'], { ...POLICY, minVersion: 'TLSv1.3' }],
    ['policy only on a plain listener: nothing', { tls: null }, { tls: null }, [], { ...POLICY, ciphers: 'C' }],
    ['a limit a running server takes: tune', {}, { limits: { keepAliveTimeoutMs: 1 } }, ['health: tune (limits)']],
    ['connections: tune', {}, { limits: { maxConnections: 7 } }, ['health: tune (limits)']],
    ['HTTP/2 streams per connection: tune (new and open sessions get the setting)', {}, { limits: { maxStreamsPerConnection: 8 } }, ['health: tune (limits)']],
    ['port wins over everything else', {}, { port: 9999, host: '::1', tls: null }, ['health: rebind (port 8886 -> 9999)']],
    ['rebind wins over a new certificate', {}, { host: '::1', tls: 'serial-2' }, ['health: rebind (address 127.0.0.1 -> ::1)']],
    ['ACME without a certificate yet, as it runs: nothing', { acme: true, tls: null }, { acme: true, tls: null }, []],
    ['ACME: the certificate arrived on disk (another process ordered it): swap TLS', { acme: true, tls: null }, { acme: true, tls: 'serial-2' }, ['health: swap-tls (certificate serial-2)']],
    ['ACME: the certificate in use is the one on disk: nothing', { acme: true, tls: 'serial-2' }, { acme: true, tls: 'serial-2' }, []],
    ['ACME without a certificate yet keeps serving TLS: not "TLS off"', { acme: true, tls: null }, { acme: true, tls: null, limits: { maxConnections: 7 } }, ['health: tune (limits)']],
    ['from files to ACME: rebind (it answers tls-alpn-01)', {}, { acme: true, tls: null }, ['health: rebind (certificate from ACME)']],
    ['from ACME to files: rebind', { acme: true, tls: 'serial-2' }, {}, ['health: rebind (certificate from files)']],
    ['plain to ACME: TLS on', { tls: null }, { acme: true, tls: null }, ['health: rebind (TLS on)']],
    ['a new certificate and new limits: one swap that also tunes', {}, { tls: 'serial-2', limits: { maxConnections: 7 } }, ['health: swap-tls (certificate serial-2, limits)']],
  ];
  for (const [name, running, next, expected, policy] of cases) {
    it(name, () => assert.deepEqual(planHealth(running, next, policy), expected));
  }

  it('plans every listener, in table order', () => {
    const next: NextListeners = { policy: POLICY, listeners: perListener((name) => prepared(name, { port: 1 + defaultPort(name) })) };
    assert.deepEqual(
      plan({}, next).map((c) => `${c.name}: ${c.action}`),
      ['data: start', 'health: start', 'management: start', 'metrics: start'],
    );
  });
});

describe('tlsRemovals(running, next): a reload never turns TLS off', () => {
  const running = (tls: boolean): Partial<Record<ListenerName, RunningListener>> => ({ health: { ...prepared('health', { tls: tls ? 'serial-1' : null }), policy: POLICY } });
  const next = (spec: Spec): NextListeners => ({ policy: POLICY, listeners: perListener((name) => prepared(name, name === 'health' ? spec : { tls: null })) });
  const cases: [string, boolean, Spec, number][] = [
    ['TLS kept', true, {}, 0],
    ['TLS dropped', true, { tls: null }, 1],
    ['TLS dropped with a new port', true, { tls: null, port: 9999 }, 1],
    ['TLS dropped, listener disabled: nothing served in clear', true, { tls: null, enabled: false }, 0],
    ['plain before, plain after', false, { tls: null }, 0],
    ['plain before, TLS after', false, {}, 0],
    ['TLS from files, then ACME waiting for its certificate: still TLS', true, { tls: null, acme: true }, 0],
  ];
  for (const [name, tls, spec, count] of cases) {
    it(name, () => {
      const found = tlsRemovals(running(tls), next(spec));
      assert.equal(found.length, count);
      if (count > 0) assert.match(found[0] ?? '', /^the health listener serves TLS .* a reload never turns TLS off/);
    });
  }
});
