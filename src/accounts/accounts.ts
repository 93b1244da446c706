import { hash } from 'node:crypto';
import type { KeepConfig } from '../config/schema.js';
import { REALMS, type Realm } from '../config/listener-table.js';
import { parseSecret, type SaltedSecret } from './secret.js';

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
