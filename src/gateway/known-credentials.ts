import { createHmac, randomBytes } from 'node:crypto';

/**
 * Basic credentials the product accepted lately (passthrough mode), kept as keyed digests, never
 * as text. A client that sends them again is not logging in anew: it skips the login throttle,
 * so an OData client's parallel requests are not counted as parallel guesses.
 */
export class KnownCredentials {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(ttlMs = 10 * 60_000, max = 10_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  #digest(authorization: string): string {
    return createHmac('sha256', this.#key).update(authorization).digest('base64');
  }

  has(authorization: string, now = Date.now()): boolean {
    const digest = this.#digest(authorization);
    const expires = this.#entries.get(digest);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.#entries.delete(digest);
    return false;
  }

  add(authorization: string, now = Date.now()): void {
    const digest = this.#digest(authorization);
    this.#entries.delete(digest); // re-insert: the Map's order is the eviction order
    this.#entries.set(digest, now + this.#ttlMs);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  forget(authorization: string): void {
    this.#entries.delete(this.#digest(authorization));
  }
}
