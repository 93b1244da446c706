import { z } from 'zod';
import { LOG_LEVELS } from '../support/logger.js';
import { REALM_LISTENERS, REALMS, type Realm } from './listener-table.js';
import { SECRET_FORMAT_HINT, SECRET_PATTERN } from './secret-format.js';
import { getOwn, isJsonObject, setOwn, valueAt, type JsonObject } from './json.js';
import { isSecretPath } from './mask.js';
import { sourcesAt, type SourceTree } from './merge.js';
import { describeFound, formatPath, type ConfigProblem } from './problems.js';
import { parseTrustedProxy } from './trusted-proxies.js';
import { relationProblems } from './relations.js';
import { acmeBlock } from './acme-schema.js';
import { throttleStoreSchema } from './throttle-store.js';

/*
 * Only the keys keepd uses are validated; every other key is kept as it is (looseObject), because
 * real keepconfig.d folders hold hundreds of product keys. Each `error` text completes the sentence
 * "expected ..., found ...".
 */

const PORT_EXPECTED = 'an integer from 0 to 65535 (0 picks a free port)';
const port = z
  .number({ error: PORT_EXPECTED })
  .int({ error: PORT_EXPECTED })
  .min(0, { error: PORT_EXPECTED })
  .max(65535, { error: PORT_EXPECTED });

const nonEmptyString = (what: string) => z.string({ error: what }).min(1, { error: what });


const SHUTDOWN_KEY_EXPECTED = `${SECRET_FORMAT_HINT}, or a plain passphrase of 1 to 1024 characters`;
const secret = z.string({ error: SECRET_FORMAT_HINT }).regex(SECRET_PATTERN, { error: SECRET_FORMAT_HINT });

const account = z.looseObject(
  {
    active: z.boolean({ error: 'true or false' }),
    CN: z.string({ error: 'a string such as "CN=John Doe/O=Org"' }).optional(),
    secret,
  },
  { error: 'an account object {"active": true, "secret": "HASH:SALT"}' },
);
export type AccountConfig = z.infer<typeof account>;

const REALM_EXPECTED = 'an object of accounts, e.g. {"name": {"active": true, "secret": "HASH:SALT"}}';

/**
 * One realm's accounts, by name, with own-property semantics: z.record skips a key named
 * `__proto__` (neither validated nor kept), so an account of that name would be listed by
 * `keepd check` yet never log in, and a malformed one would pass unreported. Here every own key of
 * the merged JSON is validated as an account, its problems under its own path, and written with
 * setOwn, so that `__proto__` is an account like any other (accounts.ts indexes it in a Map).
 */
const realm = z.custom<JsonObject>(isJsonObject, { error: REALM_EXPECTED }).transform((accounts, ctx) => {
  const out: Record<string, AccountConfig> = {};
  for (const name of Object.keys(accounts)) {
    const result = account.safeParse(getOwn(accounts, name));
    if (result.success) {
      setOwn(out, name, result.data);
      continue;
    }
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: [name, ...issue.path] });
    }
  }
  return out;
});

const identity = z.looseObject(
  Object.fromEntries(REALMS.map((name) => [name, realm])) as Record<Realm, typeof realm>,
  { error: 'an object with the sections healthcheckAPI, managementAPI, metricsAPI, singleDbModeUsers' },
);

export const TLS_TYPES = ['pfx', 'jks', 'pem'] as const;

const HOSTNAME_EXPECTED = 'a DNS name such as "keep.example.com" or "*.example.com" (international names in their xn-- form)';
// Letters, digits and hyphens only (IDN names in their xn-- form); no IP literal: SNI never carries one (RFC 6066).
const hostname = z.string({ error: HOSTNAME_EXPECTED }).refine((text) => !/^[\d.]+$/.test(text), { error: `${HOSTNAME_EXPECTED}, not an IP address (SNI never carries one)` }).regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, { error: HOSTNAME_EXPECTED });

/** keepd's extension: one more certificate of a TLS listener, presented to clients that ask for its names (SNI). */
const sniCertificate = z
  .looseObject(
    {
      TLSFile: nonEmptyString('the path of the keystore (pfx/jks) or private key (pem)'),
      TLSPassword: z.string({ error: 'a string ("" when there is no password)' }).optional(),
      TLSType: z.enum(['pfx', 'jks', 'pem'], { error: 'one of "pfx", "jks", "pem"' }),
      PEMCert: nonEmptyString('the path of the PEM certificate chain').optional(),
      hostnames: z.array(hostname, { error: 'a list of DNS names such as ["keep.example.com"]' }).min(1, { error: 'at least one DNS name (leave hostnames out to use the certificate\'s own)' }).optional(),
    },
    { error: 'an object such as {"TLSType": "pem", "TLSFile": "keep.key.pem", "PEMCert": "keep.cert.pem"}' },
  )
  .superRefine((entry, ctx) => {
    if (entry.TLSType === 'pem' && entry.PEMCert === undefined) ctx.addIssue({ code: 'custom', path: ['PEMCert'], message: 'the path of the certificate chain (required when TLSType is "pem")' });
  });

/** The product's TLS keys (and keepd's `certificates`); valid at the top level (all listeners) and in a `listeners.<name>` block. */
const tlsKeys = {
  TLSFile: nonEmptyString('the path of the keystore (pfx/jks) or private key (pem)').optional(),
  TLSPassword: z.string({ error: 'a string ("" when there is no password)' }).optional(),
  TLSType: z.enum(TLS_TYPES, { error: 'one of "pfx", "jks", "pem"' }).optional(),
  PEMCert: nonEmptyString('the path of the PEM certificate chain').optional(),
  certificates: z.array(sniCertificate, { error: 'a list of certificates such as [{"TLSType": "pem", "TLSFile": "...", "PEMCert": "..."}]' }).optional(),
};
const host = nonEmptyString('an address to bind, such as "127.0.0.1" or "::" (leave it out for all interfaces)').optional();
const flag = z.boolean({ error: 'true or false' }).optional();
const switches = z.record(z.string(), z.boolean({ error: 'true or false' }), { error: 'an object of names to true/false' });

const integer = (min: number, max: number, unit: string) => {
  const text = `an integer from ${min} to ${max} (${unit})`;
  return z.number({ error: text }).int({ error: text }).min(min, { error: text }).max(max, { error: text });
};

/** Per-listener protection against slow and oversized clients. */
const limitKeys = {
  handshakeTimeoutMs: integer(100, 600_000, 'milliseconds'),
  headersTimeoutMs: integer(100, 600_000, 'milliseconds'),
  requestTimeoutMs: integer(100, 3_600_000, 'milliseconds'),
  keepAliveTimeoutMs: integer(0, 600_000, 'milliseconds'),
  maxHeaderBytes: integer(1024, 1_048_576, 'bytes'),
  maxBodyBytes: integer(0, 10_485_760, 'bytes'),
  maxConnections: integer(1, 1_000_000, 'connections'),
  maxConnectionsPerClient: integer(1, 1_000_000, 'connections from one client address'),
  maxStreamsPerConnection: integer(1, 10_000, 'HTTP/2 requests at once on one connection'),
};
const limits = z.looseObject(limitKeys, { error: 'an object of limits such as {"headersTimeoutMs": 10000}' });
const limitOverrides = limits.partial();

/** keepd's extension: per-listener address, TLS material, limits and on/off. */
const listenerKeys = { enabled: flag, HOST: host, http2: flag, ...tlsKeys, limits: limitOverrides.optional() };
const listenerBlock = z.looseObject(listenerKeys, { error: 'an object such as {"HOST": "127.0.0.1"}' }).optional();

const UPSTREAM_URL_EXPECTED = 'the address of the product\'s data port, such as "http://127.0.0.1:18880" (http or https, no path)';
/** http or https, a host, a port at most: no user info, path, query or fragment. */
function isOrigin(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '' && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
}
const upstreamUrl = z.string({ error: UPSTREAM_URL_EXPECTED }).refine(isOrigin, { error: UPSTREAM_URL_EXPECTED });

/** keepd's extension: the product behind the data listener (docs/gateway.md). */
const upstream = z.looseObject(
  {
    url: upstreamUrl.optional(),
    auth: z.enum(['passthrough', 'functional'], { error: '"passthrough" (the product authenticates) or "functional" (keepd does, with identity.singleDbModeUsers)' }),
    caFile: nonEmptyString('the path of a PEM file with the CA certificates that sign the upstream\'s certificate').optional(),
    connectTimeoutMs: integer(100, 120_000, 'milliseconds'),
    responseTimeoutMs: integer(100, 3_600_000, 'milliseconds').optional(),
    probe: z.looseObject(
      {
        path: z.string({ error: 'a path such as "/api"' }).regex(/^\/[\x21-\x7e]*$/, { error: 'a path such as "/api"' }),
        intervalSeconds: integer(1, 3600, 'seconds'),
        timeoutMs: integer(100, 60_000, 'milliseconds'),
      },
      { error: 'an object such as {"path": "/", "intervalSeconds": 10}' },
    ),
  },
  { error: 'an object such as {"url": "http://127.0.0.1:18880"}' },
);
const dataBlock = z.looseObject({ ...listenerKeys, upstream }, { error: 'an object such as {"upstream": {"url": "http://127.0.0.1:18880"}}' });

const ROUTE_PATH_EXPECTED = 'a path such as "/api" (it matches /api and everything under /api/)';
const routePath = z
  .string({ error: ROUTE_PATH_EXPECTED })
  .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { error: ROUTE_PATH_EXPECTED })
  .refine((text) => !text.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment)), { error: `${ROUTE_PATH_EXPECTED}, without . or .. segments (encoded or not)` });
const ROUTE_TO_EXPECTED = `one of ${REALM_LISTENERS.map((name) => `"${name}"`).join(', ')}, or an upstream URL such as "http://127.0.0.1:81" (http or https, no path)`;

/** keepd's extension: one route of the front listener; the first whose host and path match serves the request. */
const frontRoute = z.looseObject(
  {
    host: hostname.optional(),
    path: routePath.optional(),
    to: z.string({ error: ROUTE_TO_EXPECTED }).refine((text) => (REALM_LISTENERS as readonly string[]).includes(text) || isOrigin(text), { error: ROUTE_TO_EXPECTED }),
  },
  { error: 'a route such as {"path": "/api", "to": "data"} or {"host": "keep.example.com", "to": "data"}' },
);

/** keepd's extension: one port for everything (docs/front.md). */
const frontBlock = z
  .looseObject(
    {
      ...listenerKeys,
      enabled: z.boolean({ error: 'true or false' }),
      port,
      routes: z.array(frontRoute, { error: 'a list of routes such as [{"path": "/api", "to": "data"}]' }),
    },
    { error: 'an object such as {"enabled": true, "port": 443, "routes": [{"path": "/api", "to": "data"}]}' },
  );

const trustedProxy = z.string({ error: 'an IP address or CIDR such as "10.0.0.0/8"' }).superRefine((text, ctx) => {
  const parsed = parseTrustedProxy(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

export const configSchema = z.looseObject({
  PORT: port,
  HEALTHCHECKPORT: port,
  MANAGMENTPORT: port,
  METRICSPORT: port,
  HOST: host,
  ...tlsKeys,
  enabledProtocols: switches,
  removeInsecureProtocols: switches,
  cipher: switches,
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}` }),
  // Salted (HASH:SALT) or, as older product files hold it, plain (accounts/shutdown-key.ts); a mistyped salted one is refused.
  shutdownkey: z
    .string({ error: SHUTDOWN_KEY_EXPECTED })
    .min(1, { error: SHUTDOWN_KEY_EXPECTED })
    .max(1024, { error: SHUTDOWN_KEY_EXPECTED })
    .refine((text) => SECRET_PATTERN.test(text) || !/^[0-9A-Fa-f]+:[0-9A-Fa-f]+$/.test(text), { error: SECRET_FORMAT_HINT })
    .optional(),
  identity,
  // metrics.jvmMetricsEnabled: a top-level jvmMetricsEnabled is another name for it (aliases.ts).
  metrics: z.looseObject(
    { enabled: z.boolean({ error: 'true or false' }), jvmMetricsEnabled: z.boolean({ error: 'true or false' }) },
    { error: 'an object such as {"enabled": true, "jvmMetricsEnabled": false}' },
  ),
  prometheusMetrics: z.looseObject(
    {
      enabled: z.boolean({ error: 'true or false' }),
      endpoint: routePath.refine((text) => text !== '/', { error: 'a path other than "/" (GET / lists the metrics listener\'s routes)' }),
    },
    { error: 'an object such as {"enabled": true, "endpoint": "/metrics"}' },
  ),
  jvmMetricsEnabled: flag, // moved into metrics by aliases.ts; listed for the docs' key table
  processMetricsEnabled: flag,
  watch: z.looseObject(
    { enabled: z.boolean({ error: 'true or false' }), debounceMs: integer(10, 5000, 'milliseconds') },
    { error: 'an object such as {"enabled": true, "debounceMs": 75}' },
  ),
  strict: z.boolean({ error: 'true or false' }),
  loginRateLimit: z.looseObject(
    {
      enabled: z.boolean({ error: 'true or false' }),
      maxFailures: integer(1, 100_000, 'failed logins'),
      windowSeconds: integer(1, 86_400, 'seconds'),
      exemptLoopback: z.boolean({ error: 'true or false' }),
      store: throttleStoreSchema,
    },
    { error: 'an object such as {"maxFailures": 10, "windowSeconds": 60}' },
  ),
  passwordVerification: z.looseObject(
    { concurrency: integer(1, 256, 'verifications at once'), queueLimit: integer(0, 100_000, 'waiting verifications') },
    { error: 'an object such as {"concurrency": 4, "queueLimit": 200}' },
  ),
  limits,
  drainTimeoutSeconds: z.number({ error: 'a number of seconds from 0 to 300' }).min(0, { error: 'a number of seconds from 0 to 300' }).max(300, { error: 'a number of seconds from 0 to 300' }),
  trustedProxies: z.array(trustedProxy, { error: 'a list of addresses or CIDRs such as ["10.0.0.0/8"] ([] trusts nobody)' }),
  bodyHandler: z.looseObject(
    { bodyLimit: z.number({ error: 'a number of bytes, or -1 for no limit' }).int({ error: 'a whole number of bytes, or -1 for no limit' }).min(-1, { error: 'a number of bytes, or -1 for no limit' }) },
    { error: 'an object such as {"bodyLimit": 10000000}' },
  ),
  httpIdleTimeout: integer(1, 86_400, 'seconds'),
  http2: z.boolean({ error: 'true or false' }),
  acme: acmeBlock,
  listeners: z.looseObject(
    { data: dataBlock, health: listenerBlock, management: listenerBlock, metrics: listenerBlock, front: frontBlock },
    { error: 'an object with the blocks data, health, management, metrics, front' },
  ),
});

export type KeepConfig = z.infer<typeof configSchema>;

export type Validation = { ok: true; config: KeepConfig } | { ok: false; problems: ConfigProblem[] };

/** A string under `identity` where a flag belongs (`"active": "..."`): a password pasted in the wrong place, perhaps. Only a CN is shown. */
function pastedUnderIdentity(path: readonly (string | number)[], found: unknown): boolean {
  if (path[0] !== 'identity' || typeof found !== 'string' || path[path.length - 1] === 'CN') return false;
  // A quoted flag is shown: seeing "true" in quotes is the hint the admin needs.
  return !/^(true|false|yes|no|on|off|[01])$/i.test(found);
}

/** Validates the merged configuration; every problem names the key, the layer that set it, and what was found. */
export function validateConfig(merged: JsonObject, sources: SourceTree): Validation {
  const result = configSchema.safeParse(merged);
  const label = (path: (string | number)[]): string => {
    const origin = sourcesAt(sources, path);
    return origin.length > 0 ? origin.join(', ') : 'default';
  };
  const problems = (result.success ? [] : result.error.issues).map((issue): ConfigProblem => {
    const path = issue.path.filter((step): step is string | number => typeof step !== 'symbol');
    const found = valueAt(merged, path);
    return { source: label(path), path: formatPath(path), message: `expected ${issue.message}, found ${describeFound(found, isSecretPath(path) || pastedUnderIdentity(path, found))}` };
  });
  for (const relation of relationProblems(merged)) {
    // A missing key that another key requires is reported where that other key was set.
    problems.push({ source: label(relation.setBy ?? relation.path), path: formatPath(relation.path), message: relation.message });
  }
  if (result.success && problems.length === 0) return { ok: true, config: result.data };
  return { ok: false, problems };
}
