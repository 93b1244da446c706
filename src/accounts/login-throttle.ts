import { isIPv6 } from 'node:net';

export interface ThrottleSettings {
  enabled: boolean;
  maxFailures: number;
  windowSeconds: number;
  exemptLoopback: boolean;
}

interface ClientRecord {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

/** The most clients tracked per listener; beyond it the oldest records go (bounded memory under a spray). */
const MAX_CLIENTS = 50_000;

/**
 * The key a client is counted under: IPv4 addresses whole (IPv4-mapped IPv6 unwrapped), IPv6 by
 * its /64, since one host usually owns a whole /64 and could rotate through it.
 */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address; // IPv4, the common case
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export function isLoopback(address: string): boolean {
  const key = clientKey(address);
  return key.startsWith('127.') || address === '::1';
}

/**
 * Failed logins per client address, for one listener: after `maxFailures` failures within
 * `windowSeconds`, the client is refused (429) for one window without any password being
 * verified. A successful login clears the client's record.
 */
export class LoginThrottle {
  #settings: ThrottleSettings;
  readonly #clients = new Map<string, ClientRecord>();
  readonly #now: () => number;

  constructor(settings: ThrottleSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  configure(settings: ThrottleSettings): void {
    this.#settings = settings;
  }

  #applies(address: string): boolean {
    return this.#settings.enabled && !(this.#settings.exemptLoopback && isLoopback(address));
  }

  /** Seconds until the client may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    if (this.#clients.size === 0 || !this.#applies(address)) return 0; // the common case: nobody failed
    const record = this.#clients.get(clientKey(address));
    if (!record) return 0;
    const left = record.blockedUntil - this.#now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  recordFailure(address: string): void {
    if (!this.#applies(address)) return;
    const key = clientKey(address);
    const now = this.#now();
    const windowMs = this.#settings.windowSeconds * 1000;
    const record = this.#clients.get(key);
    const current = record && now - record.windowStart < windowMs ? record : { failures: 0, windowStart: now, blockedUntil: 0 };
    current.failures++;
    if (current.failures >= this.#settings.maxFailures) current.blockedUntil = now + windowMs;
    this.#clients.delete(key); // re-insert: the Map's order is the eviction order
    this.#clients.set(key, current);
    this.#evict(now, windowMs);
  }

  recordSuccess(address: string): void {
    this.#clients.delete(clientKey(address));
  }

  /** Clients refused right now. */
  blockedClients(): number {
    const now = this.#now();
    let count = 0;
    for (const record of this.#clients.values()) if (record.blockedUntil > now) count++;
    return count;
  }

  /** Oldest first (Map order): drop records whose window and block are over, and any excess. */
  #evict(now: number, windowMs: number): void {
    for (const [key, record] of this.#clients) {
      const stale = now - record.windowStart >= windowMs && record.blockedUntil <= now;
      if (!stale && this.#clients.size <= MAX_CLIENTS) break;
      this.#clients.delete(key);
    }
  }
}
