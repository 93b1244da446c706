import type { JsonObject } from './json.js';
import { LETS_ENCRYPT } from './acme-schema.js';
import { FRONT_DEFAULT_PORT, REALM_LISTENERS, LISTENERS, REALMS } from './listener-table.js';

/**
 * keepd's built-in configuration: the first layer, below every file and the environment, and the
 * only place a default lives. `keepd check`, `GET /config` and `--sources` show each of these
 * values with the source `default`. The docs' key table is checked against this and the schema.
 */
export function builtInDefaults(): JsonObject {
  return {
    ...Object.fromEntries(REALM_LISTENERS.map((name) => [LISTENERS[name].portKey, LISTENERS[name].defaultPort])),
    LOG_LEVEL: 'info',
    // TLS 1.2 and 1.3; `cipher: {}` means keepd's modern list (tls/tls-policy.ts DEFAULT_CIPHERS).
    enabledProtocols: { 'TLSv1.2': true, 'TLSv1.3': true },
    removeInsecureProtocols: {},
    cipher: {},
    // The product's keys; a top-level jvmMetricsEnabled is an alias of metrics.jvmMetricsEnabled.
    // processMetricsEnabled has no default of its own: unset, it follows metrics.jvmMetricsEnabled.
    metrics: { enabled: true, jvmMetricsEnabled: true },
    // The product's: the metrics listener's scrape path; enabled false: no scrape path (the listener stays).
    prometheusMetrics: { enabled: true, endpoint: '/metrics' },
    watch: { enabled: true, debounceMs: 75 },
    drainTimeoutSeconds: 10,
    strict: false,
    // store "memory": each process counts alone; {"redis": {...}}: replicas share one count (docs/replicas.md).
    loginRateLimit: { enabled: true, maxFailures: 10, windowSeconds: 60, exemptLoopback: false, store: 'memory' },
    passwordVerification: { concurrency: 4, queueLimit: 200 },
    limits: {
      handshakeTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 10_000,
      maxHeaderBytes: 16_384,
      maxBodyBytes: 16_384,
      maxConnections: 1024,
      maxConnectionsPerClient: 64,
      // HTTP/2: requests at once on one connection (nginx's http2_max_concurrent_streams).
      maxStreamsPerConnection: 128,
    },
    // TLS listeners offer HTTP/2 and HTTP/1.1 by ALPN; false: HTTP/1.1 only.
    http2: true,
    // keepd's own: whose X-Forwarded-For is believed (docs/gateway.md). Nobody's, by default.
    trustedProxies: [],
    // The product's: the data port's request body limit (-1: none) and, for keepd, how long a
    // proxied exchange may wait for the product (the product's docs raise it for long DQL queries).
    bodyHandler: { bodyLimit: 10_000_000 },
    httpIdleTimeout: 60,
    // keepd's own (docs/acme.md): certificates from Let's Encrypt, off until domains are listed.
    // stateDir has no default here: it is outside the configuration folder (acme-settings.ts).
    acme: { directory: LETS_ENCRYPT, domains: [], challenge: 'tls-alpn-01', httpPort: 80 },
    listeners: {
      // The gateway is off until listeners.data.upstream.url is set.
      data: { upstream: { auth: 'passthrough', connectTimeoutMs: 5000, probe: { path: '/', intervalSeconds: 10, timeoutMs: 2000 } } },
      // keepd's one port for everything (docs/front.md): off until an admin turns it on with routes.
      front: { enabled: false, port: FRONT_DEFAULT_PORT, routes: [] },
    },
    identity: Object.fromEntries(REALMS.map((realm) => [realm, {}])),
  };
}

/**
 * The defaults inside `loginRateLimit.store.redis`. Not a layer of their own: the store is
 * "memory" (a string) by default, and a layer that sets an object in its place replaces the
 * string whole, so the schema fills these in (config/throttle-store.ts).
 */
export const REDIS_STORE_DEFAULTS = { keyPrefix: 'keepd:throttle:', timeoutMs: 200 } as const;
