import { isIPv6 } from 'node:net';
import { isLoopbackAddress } from '../config/addresses.js';

/** What begin() decided, handed back to finish(). */
export interface Attempt {
  /** Seconds to wait before trying again; 0: go ahead. */
  wait: number;
  /** Counted as running: finish() takes it off. */
  counted: boolean;
  /** The shared store that counted it (shared-throttle.ts), and the attempt's id there; undefined: counted in this process. */
  sharedBy?: object;
  sharedId?: string;
}

export interface ThrottleSettings {
  enabled: boolean;
  maxFailures: number;
  windowSeconds: number;
  exemptLoopback: boolean;
}

/** Does the throttle count this client (on, and not an exempt loopback address)? */
export function throttleApplies(settings: ThrottleSettings, address: string): boolean {
  return settings.enabled && !(settings.exemptLoopback && isLoopbackAddress(address));
}

interface ClientRecord {
  failures: number;
  /** Verifications of this client still running: they count against the limit too. */
  pending: number;
  windowStart: number;
  blockedUntil: number;
  /** Accounts this client failed to log in to (a few): a success clears only its own account. */
  failedUsers: Set<string>;
}

const MAX_FAILED_USERS = 32;

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

/**
 * Failed logins per client address, for one listener: after `maxFailures` failures within
 * `windowSeconds`, the client is refused (429) for one window without any password being
 * verified. Verifications still running count too, so parallel guesses cannot overtake the
 * count. A successful login clears the client's record, unless it also failed for other
 * accounts: one valid account must not let a client keep guessing the others.
 */
export class LoginThrottle {
  /** Read at every use: the configuration in use decides, and a reload has nothing to copy here. */
  readonly #settings: () => ThrottleSettings;
  readonly #clients = new Map<string, ClientRecord>();
  readonly #now: () => number;

  constructor(settings: () => ThrottleSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  #applies(address: string): boolean {
    return throttleApplies(this.#settings(), address);
  }

  #windowMs(): number {
    return this.#settings().windowSeconds * 1000;
  }

  /** The client's record, started afresh when its window is over. */
  #record(key: string, now: number): ClientRecord {
    const record = this.#clients.get(key);
    if (record && (now - record.windowStart < this.#windowMs() || record.blockedUntil > now || record.pending > 0)) return record;
    const fresh: ClientRecord = { failures: 0, pending: record?.pending ?? 0, windowStart: now, blockedUntil: 0, failedUsers: new Set() };
    this.#clients.set(key, fresh);
    return fresh;
  }

  /** Seconds until a refused client may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    if (this.#clients.size === 0 || !this.#applies(address)) return 0; // the common case: nobody failed
    const record = this.#clients.get(clientKey(address));
    if (!record) return 0;
    const left = record.blockedUntil - this.#now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /**
   * Before a password is verified: `wait` 0 and the attempt counted as running (`counted`, unless
   * the throttle does not apply to this client), or the seconds to wait (blocked, or as many
   * attempts running and failed as the limit allows). Hand the answer back to finish().
   */
  begin(address: string): Attempt {
    if (!this.#applies(address)) return { wait: 0, counted: false };
    const now = this.#now();
    const record = this.#record(clientKey(address), now);
    if (record.blockedUntil > now) return { wait: Math.ceil((record.blockedUntil - now) / 1000), counted: false };
    if (record.failures + record.pending >= this.#settings().maxFailures) return { wait: 1, counted: false };
    record.pending++;
    return { wait: 0, counted: true };
  }

  /**
   * After a verification begun with begin(): its result (`none`: it never ran, e.g. overload).
   * A running attempt that begin() counted is taken off whatever the settings are now (a reload
   * may have switched the throttle off meanwhile); failures count only where it applies now.
   */
  finish(address: string, user: string, result: 'success' | 'failure' | 'none', attempt: Attempt): void {
    const key = clientKey(address);
    const counted = attempt.counted ? this.#clients.get(key) : undefined;
    if (counted) counted.pending = Math.max(0, counted.pending - 1);
    if (!this.#applies(address)) {
      if (counted && counted.failures === 0 && counted.pending === 0 && counted.blockedUntil <= this.#now()) this.#clients.delete(key);
      return;
    }
    const now = this.#now();
    const record = this.#record(key, now);
    if (result === 'failure') {
      record.failures++;
      if (record.failedUsers.size < MAX_FAILED_USERS) record.failedUsers.add(user);
      if (record.failures >= this.#settings().maxFailures) record.blockedUntil = now + this.#windowMs();
      this.#clients.delete(key); // re-insert: the Map's order is the eviction order
      this.#clients.set(key, record);
      this.#evict(now);
    } else if (result === 'success') {
      this.succeeded(address, user);
    } else if (record.failures === 0 && record.pending === 0) {
      // A verification that never ran (overload) leaves nothing behind to evict later.
      this.#clients.delete(key);
    }
  }

  /** A login that succeeded (from the cache or after verification). */
  succeeded(address: string, user: string): void {
    if (this.#clients.size === 0) return;
    const key = clientKey(address);
    const record = this.#clients.get(key);
    if (!record || record.blockedUntil > this.#now()) return;
    record.failedUsers.delete(user);
    if (record.failedUsers.size === 0 && record.pending === 0) this.#clients.delete(key);
    else if (record.failedUsers.size === 0) record.failures = 0;
  }

  /** Clients with a record (failures, a block, or verifications running). */
  get trackedClients(): number {
    return this.#clients.size;
  }

  /** Clients refused right now. */
  blockedClients(): number {
    const now = this.#now();
    let count = 0;
    for (const record of this.#clients.values()) if (record.blockedUntil > now) count++;
    return count;
  }

  /** The clients refused right now (as they are counted: an IPv6 client by its /64), oldest record first. */
  blockedList(): { address: string; failures: number; blockedUntil: Date }[] {
    const now = this.#now();
    const out: { address: string; failures: number; blockedUntil: Date }[] = [];
    for (const [address, record] of this.#clients) {
      if (record.blockedUntil > now) out.push({ address, failures: record.failures, blockedUntil: new Date(record.blockedUntil) });
    }
    return out;
  }

  /**
   * Forgets a client's failures and block (an admin's release), `address` as blockedList() names
   * it or any address counted under it. Its verifications still running stay counted. False when
   * it has no failures nor block to forget.
   */
  release(address: string): boolean {
    const key = clientKey(address);
    const record = this.#clients.get(key);
    if (!record || (record.failures === 0 && record.blockedUntil <= this.#now())) return false;
    if (record.pending === 0) this.#clients.delete(key);
    else this.#clients.set(key, { failures: 0, pending: record.pending, windowStart: this.#now(), blockedUntil: 0, failedUsers: new Set() });
    return true;
  }

  /** Oldest first (Map order): drop records whose window and block are over, and any excess. */
  #evict(now: number): void {
    for (const [key, record] of this.#clients) {
      const stale = now - record.windowStart >= this.#windowMs() && record.blockedUntil <= now && record.pending === 0;
      if (!stale && this.#clients.size <= MAX_CLIENTS) break;
      this.#clients.delete(key);
    }
  }
}
