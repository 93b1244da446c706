/*
 * The shared store's state, as pure decisions (the Redis client in redis-throttle-store.ts feeds
 * them events): whether requests use Redis or count locally, what /health shows, and what is
 * logged. Logged once per transition, never per request.
 */

export type StoreState =
  /** Not connected yet since the client was made: counting locally, nothing logged yet. */
  | { kind: 'connecting'; since: number }
  | { kind: 'up'; since: number }
  /** Redis failed (down, slow, refused a command): counting locally until a probe succeeds. */
  | { kind: 'degraded'; since: number; error: string; failedProbes: number };

export type StoreEvent = { kind: 'ok' } | { kind: 'error'; error: string };

/** What a change of state asks to be logged: nothing, the store going degraded, or back in use. */
export type Transition = 'degraded' | 'recovered' | undefined;

export const initialStoreState = (now: number): StoreState => ({ kind: 'connecting', since: now });

/**
 * The next state after a command or probe succeeded (`ok`) or failed. A failure while degraded
 * keeps the first `since` (how long it has been degraded) but shows the latest error.
 */
export function nextStoreState(state: StoreState, event: StoreEvent, now: number): { state: StoreState; transition: Transition } {
  if (event.kind === 'ok') {
    if (state.kind === 'up') return { state, transition: undefined };
    return { state: { kind: 'up', since: now }, transition: state.kind === 'degraded' ? 'recovered' : undefined };
  }
  if (state.kind === 'degraded') return { state: { ...state, error: event.error, failedProbes: state.failedProbes + 1 }, transition: undefined };
  return { state: { kind: 'degraded', since: now, error: event.error, failedProbes: 0 }, transition: 'degraded' };
}

/** Requests go to Redis only while it is up; otherwise they are counted locally, at no wait. */
export const usesStore = (state: StoreState): boolean => state.kind === 'up';

const PROBE_FIRST_MS = 100;
const PROBE_MAX_MS = 2000;

/**
 * How long after a failed probe the next one goes (a PING while degraded, besides the one sent
 * at every reconnect): doubling from 100 ms, capped at 2 s, so a slow Redis is not hammered.
 */
export function probeDelayMs(failedProbes: number): number {
  return Math.min(PROBE_MAX_MS, PROBE_FIRST_MS * 2 ** Math.min(failedProbes, 10));
}

/** ioredis's wait before reconnect attempt `times` (1, 2, ...): doubling from 50 ms, capped at 2 s. */
export function reconnectDelayMs(times: number): number {
  return Math.min(PROBE_MAX_MS, 50 * 2 ** Math.min(Math.max(times - 1, 0), 10));
}
