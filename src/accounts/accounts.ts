import { hash } from 'node:crypto';
import type { KeepConfig } from '../config/schema.js';
import { REALM_LISTENERS, LISTENERS, REALMS, type Realm } from '../config/listener-table.js';
import { displayAccountName } from '../config/account-name.js';
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

/**
 * An account as a load found it. The secret is parsed and its tag hashed on first use, not when
 * the index is built: a configuration of 10,000 accounts loads without 10,000 of each, and only
 * the accounts that log in ever pay.
 */
class StoredAccount implements Account {
  readonly CN?: string;
  #secret: SaltedSecret | undefined;
  #secretTag: string | undefined;

  constructor(
    readonly realm: Realm,
    readonly name: string,
    readonly active: boolean,
    readonly storedSecret: string,
    CN: string | undefined,
  ) {
    if (CN !== undefined) this.CN = CN;
  }

  get secret(): SaltedSecret {
    // The schema refused malformed secrets; an unmatchable one would be the safe answer anyway.
    this.#secret ??= parseSecret(this.storedSecret) ?? { hash: Buffer.alloc(32), salt: Buffer.alloc(64) };
    return this.#secret;
  }

  get secretTag(): string {
    this.#secretTag ??= hash('sha256', this.storedSecret.toUpperCase(), 'base64');
    return this.#secretTag;
  }
}

/**
 * Builds the index once per load, so that requests never look through the configuration. Own
 * properties only: the schema keeps an account named `__proto__` as an own property of its realm
 * (see schema.ts), and Object.entries lists it like any other; a Map never confuses a name with a
 * prototype.
 */
export function indexAccounts(identity: KeepConfig['identity']): AccountIndex {
  const index = new Map<Realm, Map<string, Account>>();
  for (const realm of REALMS) {
    const accounts = new Map<string, Account>();
    for (const [name, entry] of Object.entries(identity[realm])) accounts.set(name, new StoredAccount(realm, name, entry.active, entry.secret, entry.CN));
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

// RFC 7617, as src/listeners/authentication.ts applies it: the user-id ends at the first ':',
// credentials with control characters are refused, and they are decoded as UTF-8 by a TextDecoder,
// which drops a leading byte order mark.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Why no client can ever log in as `name` with HTTP Basic, or undefined when one can. Mirrors
 * parseBasicAuthorization (test/hostile-accounts.test.ts checks that they agree on any string).
 */
export function whyNameCannotLogIn(name: string): string | undefined {
  if (name.includes(':')) return 'HTTP Basic ends the user name at the first ":" (RFC 7617), so the name never arrives whole';
  if (CONTROL_CHARACTER.test(name)) return 'HTTP Basic credentials holding a control character (tab, newline, NUL, DEL...) are refused as malformed';
  if (LONE_SURROGATE.test(name)) return 'the name is not valid Unicode (a lone surrogate), so no client can send it in UTF-8';
  if (name.startsWith('\ufeff')) return 'a leading byte order mark (U+FEFF) is dropped when the credentials are decoded from UTF-8';
  return undefined;
}

/** Characters JSON.stringify leaves as they are that a terminal would act on, or that do not show. */
const INVISIBLE_OR_CONTROL = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** An account name for a message: a JSON string, every control, bidi or invisible character escaped. */
export function quoteName(name: string): string {
  return JSON.stringify(displayAccountName(name)).replace(INVISIBLE_OR_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One warning per account (active or not) whose name HTTP Basic cannot carry: it can never log
 * in, and nothing else would say so. Names are shown as JSON strings, control characters escaped.
 */
export function unusableAccountNames(index: AccountIndex): string[] {
  const warnings: string[] = [];
  for (const realm of REALMS) {
    const listeners = REALM_LISTENERS.filter((listener) => LISTENERS[listener].realm === realm).join(', ');
    for (const name of index.get(realm)?.keys() ?? []) {
      const why = whyNameCannotLogIn(name);
      if (why !== undefined) warnings.push(`account ${quoteName(name)} of identity.${realm} can never log in to the ${listeners} listener: ${why}; rename it`);
    }
  }
  return warnings;
}
