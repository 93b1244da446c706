import { z } from 'zod';
import { REDIS_STORE_DEFAULTS } from './defaults.js';
import { maskCredentialsIn } from './mask.js';
import { maskUrlCredentials, parseUrl } from './url-credentials.js';

/*
 * loginRateLimit.store: where the login throttle counts. "memory" (each process alone), or a
 * Redis server that every replica shares (docs/replicas.md). The URL may hold a password: it is
 * shown only through maskedStoreUrl().
 */

const URL_EXPECTED = 'a redis:// or rediss:// URL such as "redis://:password@redis:6379/0"';
const PREFIX_EXPECTED = 'a key prefix of 1 to 64 characters without spaces, braces, backslashes or glob characters (*?[]), such as "keepd:throttle:"';
const TIMEOUT_EXPECTED = 'an integer from 10 to 10000 (milliseconds)';
const STORE_EXPECTED = '"memory", or {"redis": {"url": "redis://..."}} to share the throttle between replicas';

/** A URL ioredis can connect to: redis:// or rediss:// (TLS), with a host. */
export function isRedisUrl(text: string): boolean {
  const url = parseUrl(text);
  if (!url) return false;
  return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '' && /^(\/\d{0,2})?$/.test(url.pathname);
}

/**
 * Characters a URL parser would percent-encode in a password: written raw, the password is not
 * what the admin typed, and text (logs, messages) could not be told apart from it.
 */
const RAW_UNSAFE = /[\s"'<>\\^`{|}]/;
const OPTIONS_EXPECTED = 'a URL without options (nothing after "?" or "#"; in a password write them %3F and %23): keepd sets the client\'s timeouts and queueing itself (timeoutMs), and options in the URL would override them';
const ENCODE_EXPECTED = 'a URL whose password is percent-encoded (a space is %20, a quote %22 or %27)';

// Braces would break the hash tag of the keys (throttle-keys.ts), glob characters the SCAN of GET /throttled.
const KEY_PREFIX = /^[^\s{}*?[\]\\]{1,64}$/;
const timeoutMs = z.number({ error: TIMEOUT_EXPECTED }).int({ error: TIMEOUT_EXPECTED }).min(10, { error: TIMEOUT_EXPECTED }).max(10_000, { error: TIMEOUT_EXPECTED });

const redisBlock = z.strictObject(
  {
    url: z
      .string({ error: URL_EXPECTED })
      .refine(isRedisUrl, { error: URL_EXPECTED, abort: true })
      .refine((text) => !/[?#]/.test(text), { error: OPTIONS_EXPECTED, abort: true })
      .refine((text) => !RAW_UNSAFE.test(text), { error: ENCODE_EXPECTED }),
    keyPrefix: z.string({ error: PREFIX_EXPECTED }).regex(KEY_PREFIX, { error: PREFIX_EXPECTED }).default(REDIS_STORE_DEFAULTS.keyPrefix),
    timeoutMs: timeoutMs.default(REDIS_STORE_DEFAULTS.timeoutMs),
  },
  { error: 'an object {"url": "redis://...", "keyPrefix": "keepd:throttle:", "timeoutMs": 200} with no other keys' },
);

const memoryStore = z.literal('memory', { error: STORE_EXPECTED });
const sharedStore = z.strictObject({ redis: redisBlock }, { error: STORE_EXPECTED });
export type ThrottleStoreSetting = z.infer<typeof memoryStore> | z.infer<typeof sharedStore>;

/**
 * A string must be "memory", anything else the Redis object: chosen by type rather than with
 * z.union, which reports a Redis block with a missing url as "expected memory or ..." instead of
 * naming `loginRateLimit.store.redis.url`.
 */
export const throttleStoreSchema = z.unknown().transform((value, ctx): ThrottleStoreSetting => {
  const parsed = typeof value === 'string' ? memoryStore.safeParse(value) : sharedStore.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});
export type RedisStoreSettings = z.infer<typeof redisBlock>;

/** The Redis settings of a store setting, or undefined for "memory". */
export function redisSettingsOf(setting: ThrottleStoreSetting): RedisStoreSettings | undefined {
  return setting === 'memory' ? undefined : setting.redis;
}

/** Two settings that need the same client: a reload that keeps it keeps the connection. */
export function sameRedisSettings(a: RedisStoreSettings | undefined, b: RedisStoreSettings | undefined): boolean {
  return a?.url === b?.url && a?.keyPrefix === b?.keyPrefix && a?.timeoutMs === b?.timeoutMs;
}

/** The URL as logs, /health, /info and errors show it: the password (or a lone user, maybe a token) as `***`. */
export function maskedStoreUrl(url: string): string {
  return maskUrlCredentials(url);
}

/**
 * A message from the Redis client with the URL's credentials taken out: masked where it quotes
 * the URL, and the password itself wherever it appears (decoded or not), whatever the library wrote.
 */
export function redactStoreMessage(message: string, url: string): string {
  let out = maskCredentialsIn(message);
  const parsed = parseUrl(url);
  // As maskCredentialsIn does: the password, or a lone user name (it may be a token).
  const secret = parsed?.password || parsed?.username || '';
  if (secret === '') return out;
  for (const form of new Set([secret, safeDecode(secret)])) out = out.split(form).join('***');
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
