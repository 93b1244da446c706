/*
 * Where the shared login throttle keeps a client's state in Redis. Every key of one client and
 * listener carries the same hash tag `{listener:client}`, so that one script may touch them all
 * even on a Redis Cluster; the prefix (loginRateLimit.store.redis.keyPrefix) keeps keepd's keys
 * apart from everything else in the database.
 */

export interface ClientKeys {
  /** Failures in the window (a counter that expires with the window started by the first). */
  failures: string;
  /** The block: present while the client is refused; its value is the failures that set it. */
  block: string;
  /** Verifications running on any replica (they count against the limit too): a sorted set of attempt ids. */
  running: string;
  /** The accounts the client failed for (a few): a success clears only its own. */
  users: string;
}

export function clientKeys(prefix: string, listener: string, client: string): ClientKeys {
  const base = `${prefix}{${listener}:${client}}`;
  return { failures: `${base}:f`, block: `${base}:b`, running: `${base}:r`, users: `${base}:u` };
}

/** The SCAN pattern of every block of a listener (GET /throttled). Prefixes hold no glob characters (schema). */
export function blockPattern(prefix: string, listener: string): string {
  return `${prefix}{${listener}:*}:b`;
}

/** The client a block key is for, or undefined for a key that is not one of this listener's blocks. */
export function clientOfBlockKey(prefix: string, listener: string, key: string): string | undefined {
  const head = `${prefix}{${listener}:`;
  if (!key.startsWith(head) || !key.endsWith('}:b')) return undefined;
  const client = key.slice(head.length, -3);
  return client === '' || client.includes('}') ? undefined : client;
}
