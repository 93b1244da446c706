import { hash } from 'node:crypto';
import type { KeepConfig } from '../config/schema.js';
import { REALMS, type Realm } from '../config/listener-table.js';
import { parseSecret, unmatchableSecret, verifyPassword, type SaltedSecret } from './secret.js';
import type { VerificationCache } from './verification-cache.js';
import type { VerificationLimiter } from './verification-limiter.js';

export interface Account {
  readonly realm: Realm;
  readonly name: string;
  readonly active: boolean;
  readonly CN?: string;
  /** The stored text (for reports); see secretTag for the cache. */
  readonly storedSecret: string;
  /** A digest of the stored secret, part of every cache entry: a changed secret never hits an old one. */
  readonly secretTag: string;
  readonly secret: SaltedSecret;
}

/** The functional accounts of one configuration, by realm and exact name (no trimming, no case folding). */
export type AccountIndex = ReadonlyMap<Realm, ReadonlyMap<string, Account>>;

/** Builds the index once per load, so that requests never parse secrets. */
export function indexAccounts(identity: KeepConfig['identity']): AccountIndex {
  const index = new Map<Realm, Map<string, Account>>();
  for (const realm of REALMS) {
    const accounts = new Map<string, Account>();
    for (const [name, entry] of Object.entries(identity[realm])) {
      const secret = parseSecret(entry.secret);
      if (!secret) continue; // the schema already refused malformed secrets
      const secretTag = hash('sha256', entry.secret.toUpperCase(), 'base64');
      const account: Account = entry.CN === undefined
        ? { realm, name, active: entry.active, storedSecret: entry.secret, secretTag, secret }
        : { realm, name, active: entry.active, CN: entry.CN, storedSecret: entry.secret, secretTag, secret };
      accounts.set(name, account);
    }
    index.set(realm, accounts);
  }
  return index;
}

export function countAccounts(index: AccountIndex): Record<Realm, number> {
  const count = (realm: Realm): number => index.get(realm)?.size ?? 0;
  return {
    healthcheckAPI: count('healthcheckAPI'),
    managementAPI: count('managementAPI'),
    metricsAPI: count('metricsAPI'),
    singleDbModeUsers: count('singleDbModeUsers'),
  };
}

export type PasswordVerifier = (secret: SaltedSecret, password: string) => Promise<boolean>;

export type AuthFailure = 'unknown_user' | 'wrong_password' | 'inactive';
export type AuthOutcome = { ok: true; account: Account; cached: boolean } | { ok: false; reason: AuthFailure };

/**
 * Who is this, in this realm, with this password? Unknown users and inactive accounts cost the
 * same PBKDF2 as a wrong password, so response time does not tell them apart. Cached credentials
 * answer at once; every PBKDF2 goes through the limiter, which may throw VerificationOverloaded.
 */
export class Authenticator {
  readonly #cache: VerificationCache;
  readonly #limiter: VerificationLimiter;
  readonly #verify: PasswordVerifier;
  readonly #dummy = unmatchableSecret();

  constructor(cache: VerificationCache, limiter: VerificationLimiter, verify: PasswordVerifier = verifyPassword) {
    this.#cache = cache;
    this.#limiter = limiter;
    this.#verify = (secret, password) => limiter.run(() => verify(secret, password));
  }

  get limiter(): VerificationLimiter {
    return this.#limiter;
  }

  /**
   * The synchronous fast path: the account, when this exact credential verified before against
   * the account's current secret and the account is active; otherwise undefined (call authenticate).
   */
  cached(index: AccountIndex, realm: Realm, user: string, password: string): Account | undefined {
    const account = index.get(realm)?.get(user);
    if (!account?.active) return undefined;
    return this.#cache.has(this.#cache.entryFor(realm, user, account.secretTag, password)) ? account : undefined;
  }

  async authenticate(index: AccountIndex, realm: Realm, user: string, password: string): Promise<AuthOutcome> {
    const account = index.get(realm)?.get(user);
    if (!account) {
      await this.#verify(this.#dummy, password);
      return { ok: false, reason: 'unknown_user' };
    }
    const entry = this.#cache.entryFor(realm, user, account.secretTag, password);
    if (account.active && this.#cache.has(entry)) return { ok: true, account, cached: true };

    const matches = await this.#verify(account.secret, password);
    if (!account.active) return { ok: false, reason: 'inactive' };
    if (!matches) return { ok: false, reason: 'wrong_password' };
    this.#cache.add(entry);
    return { ok: true, account, cached: false };
  }
}
