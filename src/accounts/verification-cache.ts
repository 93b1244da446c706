import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers credentials that verified, so that an authenticated endpoint is not capped at the
 * ~100 PBKDF2 runs per second a core can do.
 *
 * Entries are HMACs under a per-process random key of (realm, user, stored secret, offered
 * password): no password is kept, a changed secret can never hit an old entry, and the key is
 * gone with the process. Only successes are cached, so failed guesses cannot evict good entries.
 * Bounded: the least recently used entry goes first.
 */
export class VerificationCache {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, true>();
  readonly #maxEntries: number;

  constructor(maxEntries = 4096) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  entryFor(realm: string, user: string, storedSecret: string, password: string): string {
    const mac = createHmac('sha256', this.#key);
    // Length-prefixed fields: ("ab","c") and ("a","bc") must not collide.
    for (const field of [realm, user, storedSecret, password]) {
      const bytes = Buffer.from(field, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      mac.update(length).update(bytes);
    }
    return mac.digest('base64');
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

  clear(): void {
    this.#entries.clear();
  }
}
