import { Redis } from 'ioredis';
import { maskedStoreUrl, redactStoreMessage, type RedisStoreSettings } from '../config/throttle-store.js';
import { initialStoreState, nextStoreState, probeDelayMs, reconnectDelayMs, usesStore, type StoreState, type Transition } from './store-health.js';
import { blockPattern, clientKeys, clientOfBlockKey } from './throttle-keys.js';
import { BEGIN, FINISH, RELEASE, type LuaScript } from './throttle-scripts.js';

/** What /health and /info show of the throttle's store. */
export type ThrottleStoreStatus =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; state: StoreState['kind']; since: Date; error: string | undefined };

export interface StoreCallbacks {
  /** Every failed command or probe (a metric counts them). */
  error(message: string): void;
  /** A change of state, once per transition (logged, shown in /health). */
  changed(transition: Transition | 'connected', status: ThrottleStoreStatus): void;
}

export interface BlockedClient {
  address: string;
  failures: number;
  blockedUntil: Date;
}

/** The store is degraded (or closed): the caller counts locally, without waiting. */
export class StoreUnavailable extends Error {}

/** The most clients GET /throttled lists from Redis: the answer stays small whatever an attacker sprayed. */
const MAX_LISTED = 1000;
/** The accounts remembered per client (as login-throttle.ts). */
const MAX_USERS = 32;

/**
 * A client that never waits for Redis longer than `timeoutMs`: ioredis's defaults queue commands
 * while disconnected and retry them, which hangs a login for as long as Redis is down.
 */
export function redisClientOptions(settings: Pick<RedisStoreSettings, 'timeoutMs'>) {
  return {
    enableOfflineQueue: false, // disconnected: a command fails at once, the login counts locally
    maxRetriesPerRequest: 0, // a command in flight when the connection drops fails at once too
    autoResendUnfulfilledCommands: false, // never replay a failure that was counted locally meanwhile
    commandTimeout: settings.timeoutMs,
    connectTimeout: Math.max(1000, settings.timeoutMs * 5),
    retryStrategy: reconnectDelayMs, // reconnects forever, at most 2 s apart
    keepAlive: 5000, // TCP keep-alive: a peer that vanished is found without a command
    connectionName: 'keepd-throttle',
  };
}

/**
 * The login throttle's counts in a Redis that every replica shares (loginRateLimit.store.redis).
 * Each operation is one Lua script (throttle-scripts.ts). While Redis fails, every operation
 * throws StoreUnavailable at once and shared-throttle.ts counts locally; a PING probe (at each
 * reconnect, and with capped backoff meanwhile) brings the store back by itself.
 */
export class RedisThrottleStore {
  readonly settings: RedisStoreSettings;
  readonly #client: Redis;
  readonly #callbacks: StoreCallbacks;
  readonly #now: () => number;
  #state: StoreState;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(settings: RedisStoreSettings, callbacks: StoreCallbacks, now: () => number = Date.now) {
    this.settings = settings;
    this.#callbacks = callbacks;
    this.#now = now;
    this.#state = initialStoreState(now());
    this.#client = new Redis(settings.url, redisClientOptions(settings));
    // Without a listener ioredis prints every connection error; each one counts, the state logs once.
    this.#client.on('error', (error: unknown) => this.#event(error));
    // A close after an error (a refused password, say) keeps that error: it is the one to fix.
    this.#client.on('close', () => {
      if (this.#state.kind !== 'degraded') this.#event(new Error('connection to Redis closed'));
    });
    this.#client.on('ready', () => {
      // A Redis that (re)started has no scripts: loaded now, the first logins pay no NOSCRIPT round trip.
      for (const { lua } of [BEGIN, FINISH, RELEASE]) this.#client.script('LOAD', lua).catch(() => undefined);
      this.#probeNow();
    });
  }

  status(): ThrottleStoreStatus {
    const state = this.#state;
    return { kind: 'redis', url: maskedStoreUrl(this.settings.url), state: state.kind, since: new Date(state.since), error: state.kind === 'degraded' ? state.error : undefined };
  }

  get usable(): boolean {
    return !this.#closed && usesStore(this.#state);
  }

  async begin(listener: string, client: string, maxFailures: number, windowMs: number, attemptId: string): Promise<{ blockMsLeft: number; full: boolean }> {
    const keys = clientKeys(this.settings.keyPrefix, listener, client);
    const reply = await this.#run(BEGIN, [keys.failures, keys.block, keys.running], [maxFailures, windowMs, attemptId]);
    const [blockMsLeft, full] = Array.isArray(reply) ? reply.map(Number) : [];
    return { blockMsLeft: blockMsLeft ?? 0, full: full === 1 };
  }

  /**
   * The ms the client stays blocked after this verification's result (0: not blocked). Sent to
   * the store that counted the attempt even while it is degraded, as long as it is connected: its
   * running attempt must come off there, not wait a window.
   */
  async finish(listener: string, client: string, user: string, result: 'success' | 'failure' | 'none', attemptId: string, maxFailures: number, windowMs: number): Promise<number> {
    const keys = clientKeys(this.settings.keyPrefix, listener, client);
    const reply = await this.#run(FINISH, [keys.failures, keys.block, keys.running, keys.users], [result, user, maxFailures, windowMs, attemptId, MAX_USERS], this.#connected());
    return Number(reply) || 0;
  }

  async release(listener: string, client: string): Promise<boolean> {
    const keys = clientKeys(this.settings.keyPrefix, listener, client);
    return Number(await this.#run(RELEASE, [keys.failures, keys.block, keys.users, keys.running], [])) === 1;
  }

  /** The clients blocked on this listener, on every replica. */
  async blocked(listener: string): Promise<BlockedClient[]> {
    const pattern = blockPattern(this.settings.keyPrefix, listener);
    const found = await this.#command(async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0' && keys.length < MAX_LISTED);
      const pipeline = this.#client.pipeline();
      for (const key of keys.slice(0, MAX_LISTED)) pipeline.pttl(key).get(key);
      return { keys: keys.slice(0, MAX_LISTED), replies: (await pipeline.exec()) ?? [] };
    });
    const now = this.#now();
    return found.keys.flatMap((key, index) => {
      const address = clientOfBlockKey(this.settings.keyPrefix, listener, key);
      const left = Number(found.replies[2 * index]?.[1]);
      if (address === undefined || !(left > 0)) return [];
      return [{ address, failures: Number(found.replies[2 * index + 1]?.[1]) || 0, blockedUntil: new Date(now + left) }];
    });
  }

  /** Closes the connection: whatever is in flight fails (and is counted locally). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#probe);
    this.#client.disconnect();
  }

  /** Connected and authenticated (ioredis's `ready`), whatever the store's state says. */
  #connected(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  async #run(script: LuaScript, keys: string[], args: (string | number)[], evenIfDegraded = false): Promise<unknown> {
    return this.#command(async () => {
      try {
        return await this.#client.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        // A Redis that restarted (or a replica's first call) has not seen the script yet.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await this.#client.eval(script.lua, keys.length, ...keys, ...args);
      }
    }, evenIfDegraded);
  }

  async #command<T>(run: () => Promise<T>, evenIfDegraded = false): Promise<T> {
    if (!this.usable && !evenIfDegraded) throw new StoreUnavailable(this.#state.kind === 'degraded' ? this.#state.error : 'not connected to Redis yet');
    try {
      const result = await run();
      this.#event(undefined);
      return result;
    } catch (error) {
      this.#event(error);
      throw new StoreUnavailable(this.#message(error));
    }
  }

  #message(error: unknown): string {
    return redactStoreMessage(error instanceof Error ? error.message : String(error), this.settings.url);
  }

  /** A command or probe succeeded (`undefined`) or failed: the next state, logged on a transition. */
  #event(error: unknown): void {
    if (this.#closed) return;
    if (error !== undefined) this.#callbacks.error(this.#message(error));
    const was = this.#state.kind;
    const { state, transition } = nextStoreState(this.#state, error === undefined ? { kind: 'ok' } : { kind: 'error', error: this.#message(error) }, this.#now());
    this.#state = state;
    if (transition !== undefined) this.#callbacks.changed(transition, this.status());
    else if (was === 'connecting' && state.kind === 'up') this.#callbacks.changed('connected', this.status());
    if (state.kind === 'degraded' && this.#probe === undefined) this.#scheduleProbe(probeDelayMs(state.failedProbes));
  }

  #scheduleProbe(delayMs: number): void {
    clearTimeout(this.#probe);
    this.#probe = setTimeout(() => this.#probeNow(), delayMs);
    this.#probe.unref();
  }

  /** PING, outside #command: it runs while the store is not usable, to find out whether it is again. */
  #probeNow(): void {
    clearTimeout(this.#probe);
    this.#probe = undefined;
    if (this.#closed) return;
    if (this.#client.status !== 'ready') {
      // Not connected: ioredis reconnects by itself and says why it cannot (its 'error' events,
      // such as WRONGPASS); a PING now would only fail with "stream not writeable" over that.
      const failed = this.#state.kind === 'degraded' ? this.#state.failedProbes : 0;
      this.#scheduleProbe(probeDelayMs(failed));
      return;
    }
    // A failure schedules the next probe (#event), later each time.
    this.#client.ping().then(
      () => this.#event(undefined),
      (error: unknown) => {
        this.#event(error);
        // No answer on a connection that looks open (Redis gone with its host, a black hole):
        // ioredis would wait for the kernel for many minutes; a new connection finds the new Redis.
        if (!this.#closed && error instanceof Error && /timed out/i.test(error.message)) this.#client.disconnect(true);
      },
    );
  }
}
