import { hash, randomBytes } from 'node:crypto';

/**
 * Remembers credentials that verified, so that an authenticated endpoint is not capped at the
 * ~100 PBKDF2 runs per second a core can do.
 *
 * Entries are SHA-256 digests of a per-process random key followed by (realm, user, stored secret
 * tag, offered password): no password is kept, a changed secret can never hit an old entry, and
 * the key is gone with the process. A secret-prefix hash rather than HMAC because this runs on every
 * request with a cached credential: one-shot crypto.hash() costs a quarter of createHmac(), and the
 * digests never leave the process, so the length extension that HMAC guards against has nothing
 * to extend. Only successes are cached, so failed guesses cannot evict good entries.
 * Bounded: the least recently used entry goes first.
 */
export class VerificationCache {
  readonly #key = randomBytes(32).toString('hex');
  readonly #entries = new Map<string, true>();
  readonly #maxEntries: number;

  constructor(maxEntries = 4096) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  entryFor(realm: string, user: string, secretTag: string, password: string): string {
    // Length-prefixed fields: ("ab","c") and ("a","bc") must not collide.
    const message = `${realm.length}:${realm}${user.length}:${user}${secretTag.length}:${secretTag}${password.length}:${password}`;
    return hash('sha256', this.#key + message, 'base64');
  }

  has(entry: string): boolean {
    if (!this.#entries.has(entry)) return false;
    this.#entries.delete(entry); // refresh recency
    this.#entries.set(entry, true);
    return true;
  }

  add(entry: string): void {
    this.#entries.delete(entry);
    this.#entries.set(entry, true);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}
