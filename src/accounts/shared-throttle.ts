import { clientKey, LoginThrottle, throttleApplies, type Attempt, type ThrottleSettings } from './login-throttle.js';
import { randomUUID } from 'node:crypto';
import { RedisThrottleStore, type BlockedClient } from './redis-throttle-store.js';

/** What authentication, the gateway and the management routes ask of one listener's login throttle. */
export interface Throttle {
  /** Seconds a client refused by what this process knows must wait (0: go on); never asks Redis. */
  retryAfterSeconds(address: string): number;
  /** May a login with credentials in the verification cache skip begin()? False for a client this replica saw blocked in Redis. */
  trustsCache(address: string): boolean;
  /** Before a password is verified (see LoginThrottle.begin); a promise with a shared store. */
  begin(address: string): Attempt | Promise<Attempt>;
  /** After it; never waits, never throws (a shared store's answer comes later). */
  finish(address: string, user: string, result: 'success' | 'failure' | 'none', attempt: Attempt): void;
  /** A login from the verification cache: counted in this process only (it must not cost a Redis round trip). */
  succeeded(address: string, user: string): void;
  /** Clients refused right now, as far as this process knows (a gauge). */
  blockedClients(): number;
  /** The clients refused right now (with a shared store: on every replica; `complete` false while Redis is unavailable). */
  blockedList(): Promise<BlockedList>;
  /** An admin's release (with a shared store: for every replica, unless Redis is unavailable). */
  release(address: string): Promise<ReleaseOutcome>;
}

export interface BlockedList {
  clients: BlockedClient[];
  /** false: the shared store could not be asked; other replicas' blocks are missing. */
  complete: boolean;
}

/** `released-here-only`: Redis unavailable, released in this process; `store-unavailable`: nothing here, Redis not asked. */
export type ReleaseOutcome = 'released' | 'not-found' | 'released-here-only' | 'store-unavailable';

/** The most blocks seen in Redis that one listener remembers (bounded under a spray). */
const MAX_SEEN = 10_000;

/**
 * One listener's login throttle: the in-memory one (loginRateLimit.store "memory", or while the
 * shared store is degraded), or the shared store (Redis) that every replica counts in. A failing
 * store never fails a login: the attempt is counted locally instead, at no wait.
 *
 * Logins from the verification cache do not ask Redis (that is what the cache is for); so that a
 * client blocked in Redis cannot use it to bypass the block here, a client this replica saw
 * blocked goes through begin() (Redis) until Redis says it is not blocked any more (expiry, or a
 * release on any replica).
 */
export class ClientThrottle implements Throttle {
  readonly local: LoginThrottle;
  readonly #listener: string;
  readonly #settings: () => ThrottleSettings;
  readonly #store: () => RedisThrottleStore | undefined;
  readonly #now: () => number;
  /** Clients seen blocked in the shared store, with the local time the block ends. */
  readonly #seenBlocked = new Map<string, number>();

  constructor(listener: string, settings: () => ThrottleSettings, store: () => RedisThrottleStore | undefined, now: () => number = Date.now) {
    this.#listener = listener;
    this.#settings = settings;
    this.#store = store;
    this.#now = now;
    this.local = new LoginThrottle(settings, now);
  }

  retryAfterSeconds(address: string): number {
    return this.local.retryAfterSeconds(address);
  }

  trustsCache(address: string): boolean {
    if (this.#seenBlocked.size === 0) return true;
    const key = clientKey(address);
    const until = this.#seenBlocked.get(key);
    if (until !== undefined && until <= this.#now()) this.#seenBlocked.delete(key);
    return until === undefined || until <= this.#now();
  }

  /** The shared store to count this client in, or undefined: count locally. */
  #shared(address: string): RedisThrottleStore | undefined {
    const store = this.#store();
    return store?.usable === true && throttleApplies(this.#settings(), address) ? store : undefined;
  }

  begin(address: string): Attempt | Promise<Attempt> {
    const store = this.#shared(address);
    if (!store) return this.local.begin(address);
    const { maxFailures, windowSeconds } = this.#settings();
    const key = clientKey(address);
    const id = randomUUID();
    return store.begin(this.#listener, key, maxFailures, windowSeconds * 1000, id).then(
      ({ blockMsLeft, full }): Attempt => {
        this.#saw(key, blockMsLeft);
        if (blockMsLeft > 0) return { wait: Math.ceil(blockMsLeft / 1000), counted: false };
        return full ? { wait: 1, counted: false } : { wait: 0, counted: true, sharedBy: store, sharedId: id };
      },
      // Redis failed (the store is degraded now): this attempt, and the next ones, count here.
      () => this.local.begin(address),
    );
  }

  finish(address: string, user: string, result: 'success' | 'failure' | 'none', attempt: Attempt): void {
    // The store that counted the attempt hears its end, even when degraded or replaced since (while
    // it is still connected): its running attempt comes off at once rather than after a window.
    const store = attempt.sharedBy instanceof RedisThrottleStore ? attempt.sharedBy : undefined;
    if (store === undefined || attempt.sharedId === undefined) {
      this.local.finish(address, user, result, attempt);
      return;
    }
    const { maxFailures, windowSeconds } = this.#settings();
    const key = clientKey(address);
    const counted = { wait: 0, counted: false };
    const counts = throttleApplies(this.#settings(), address) ? result : 'none';
    store.finish(this.#listener, key, user, counts, attempt.sharedId, maxFailures, windowSeconds * 1000).then(
      (blockMsLeft) => this.#saw(key, blockMsLeft),
      () => this.local.finish(address, user, result, counted),
    );
  }

  succeeded(address: string, user: string): void {
    this.local.succeeded(address, user);
  }

  blockedClients(): number {
    const now = this.#now();
    let seen = 0;
    for (const until of this.#seenBlocked.values()) if (until > now) seen++;
    return this.local.blockedClients() + seen;
  }

  async blockedList(): Promise<BlockedList> {
    const local = this.local.blockedList();
    const store = this.#store();
    if (!store) return { clients: local, complete: true };
    const shared = store.usable ? await store.blocked(this.#listener).catch(() => undefined) : undefined;
    // Redis unavailable: what this process knows, said to be partial (other replicas' blocks are missing).
    if (shared === undefined) return { clients: local, complete: false };
    // A client blocked here while Redis was down, and in Redis too: listed once.
    return { clients: [...shared, ...local.filter((client) => !shared.some((other) => other.address === client.address))], complete: true };
  }

  async release(address: string): Promise<ReleaseOutcome> {
    const key = clientKey(address);
    const seen = this.#seenBlocked.delete(key);
    const local = this.local.release(address);
    const store = this.#store();
    if (!store) return local ? 'released' : 'not-found';
    // Redis knows: a block only seen here was released (or expired) there already.
    const shared = store.usable ? await store.release(this.#listener, key).catch(() => undefined) : undefined;
    if (shared === undefined) return local || seen ? 'released-here-only' : 'store-unavailable';
    return shared || local ? 'released' : 'not-found';
  }

  /** What Redis said of a client: blocked for `blockMsLeft` more, or not (0). */
  #saw(key: string, blockMsLeft: number): void {
    if (blockMsLeft <= 0) {
      this.#seenBlocked.delete(key);
      return;
    }
    if (this.#seenBlocked.size >= MAX_SEEN) this.#forgetExpired();
    this.#seenBlocked.set(key, this.#now() + blockMsLeft);
  }

  #forgetExpired(): void {
    const now = this.#now();
    for (const [key, until] of this.#seenBlocked) if (until <= now) this.#seenBlocked.delete(key);
    // Still full: the oldest go; their clients then ask Redis only when their cache misses.
    for (const key of this.#seenBlocked.keys()) {
      if (this.#seenBlocked.size < MAX_SEEN) break;
      this.#seenBlocked.delete(key);
    }
  }
}
