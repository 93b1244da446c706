import { REALM_LISTENERS, LISTENERS, type RealmListener, type Realm } from '../config/listener-table.js';
import { quoteName, type AccountIndex } from './accounts.js';
import { verifyPassword, type SaltedSecret } from './secret.js';

/**
 * Passwords printed in the product's documentation and its examples (functional accounts, TLS
 * snippets), the most common defaults next to them, and the empty password (Basic `user:` carries
 * it, and `keepd salt` refuses it, but a secret made elsewhere may hold it). Anyone can try them.
 */
export const PUBLIC_PASSWORDS = [
  '', 'password', 'metrics', 'health', 'admin', 'secret', 'changeit', 'passw0rd', 'P@$$w0rd1352',
  // Where each is published: docs/security.md#published-example-credentials.
  'supersecret', 'Pretzel', 'The End is near!!', 'password-in-clear-protect-this', 'default-super-secret-user-password',
] as const;

/** The salted secrets the product's docs publish, matched without any PBKDF2 (docs/security.md#published-example-credentials). */
export const PUBLISHED_SECRETS: ReadonlySet<string> = new Set([
  // password: docs/references/functionalUsers.md, setupfunctionalaccount.md, howto/install/notesclient.md
  'E4B321EBA91B7F92D9BF5EAFA5322824FEC2287B8A6C133D7C31EFB706A2BA30:1A57478185E7AF3A98F01ECA08F0BA881DBC88BEC60AE8C6F1B1CC5CC55C11A20F676E082BF2D28BB96DB5A8CFB091C767C035B380DB4CBC7D1001EA8BE01663',
  // metrics: docs/references/functionalUsers.md, setupfunctionalaccount.md
  '13549ED65AD8760294B9DC898C44F8ABEED399ABB1CA7DC51E8CCFF461D56D13:32BDC8A5DF60FCE424299543DFFF408F500DB1B1EEC4FAB848AA0ED794F5D89AA65A5449EC36BF9CBF53980E4B7DF2B3A3581186E409F5B69BC0C16E51237CC8',
  // supersecret: docs/tutorial/walkthrough/lab-09.md
  'FA1D8FC7DAA715F20A3C19F62451DCD011483EFBABE46A1C03F2CF0702365726:0A2AC2338974379073BEF880B2EA9E4FE86651974C83D3958DB73C81047CF3815456678A3EE206975CE17B7874589478A2FC92DCDF2C1794087AED94BF8FD4CA',
  // Pretzel: docs/tutorial/downloads/dachnug2023.postman_collection.json (POST /decode example)
  'F7C12E11E87D7F29DFA05A691F26DE250E71ADB4771732655A566696C815F3BD:BC9B8AB4F3FA96830F29247EC4C2DED040812808BDCA8EA6842AE96BE5766D9820C2B3EC240EDFC60EA9281D5AC347DD5C703160D9CEF1AC1CBE9AC8C9DE6B0C',
]);

export interface PublicCredential {
  listener: RealmListener;
  realm: Realm;
  account: string;
}

/**
 * Per stored secret (upper-cased): does a public password open it? Secrets rarely change, so
 * reloads rarely pay. A verdict is computed against the whole of PUBLIC_PASSWORDS (the empty
 * password included), which is fixed for the life of the process: a remembered verdict is never stale.
 */
const verdicts = new Map<string, Promise<boolean>>();
let judged = 0;

/** How many secrets were judged with PBKDF2 so far in this process (each costs up to one run per public password). */
export function secretsJudged(): number {
  return judged;
}

/** One PBKDF2 at a time: a background check must not crowd out the logins (see VerificationLimiter). */
async function opensWithPublicPassword(secret: SaltedSecret): Promise<boolean> {
  for (const password of PUBLIC_PASSWORDS) {
    if (await verifyPassword(secret, password)) return true;
  }
  return false;
}

function verdictFor(stored: string, secret: SaltedSecret): Promise<boolean> {
  const key = stored.toUpperCase();
  if (PUBLISHED_SECRETS.has(key)) return Promise.resolve(true);
  let verdict = verdicts.get(key);
  if (!verdict) {
    judged++;
    verdict = opensWithPublicPassword(secret);
    verdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * Accounts (active or not) whose secret a public password opens. Costs up to one PBKDF2 per
 * public password for each secret not judged before, one at a time, off the event loop; a secret
 * already judged costs nothing while it stays. The daemon's scan forgets, when it completes, the
 * verdicts of secrets no longer in the configuration, so memory follows the configuration's size.
 */
export interface ScanOptions {
  /** Called after each account with how many are checked. */
  onProgress?: (checked: number) => void;
  /** Stops the scan between accounts, with what it found so far. */
  signal?: AbortSignal;
  /** When it completes, forget the verdicts of secrets not in `accounts` (the daemon's scan of the configuration in use, and nothing else). */
  forgetOthers?: boolean;
}

export async function findPublicCredentials(accounts: AccountIndex, options: ScanOptions = {}): Promise<PublicCredential[]> {
  const { onProgress = () => undefined, signal, forgetOthers = false } = options;
  const found: PublicCredential[] = [];
  const current = new Set<string>();
  let checked = 0;
  for (const listener of REALM_LISTENERS) {
    const realm = LISTENERS[listener].realm;
    for (const account of accounts.get(realm)?.values() ?? []) {
      if (signal?.aborted === true) return found; // partial: nothing forgotten
      current.add(account.storedSecret.toUpperCase());
      if (await verdictFor(account.storedSecret, account.secret)) found.push({ listener, realm, account: account.name });
      onProgress(++checked);
      // Verdicts already known resolve as microtasks: let requests in now and then.
      if (checked % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (forgetOthers) for (const key of verdicts.keys()) if (!current.has(key)) verdicts.delete(key);
  return found;
}

export function describePublicCredential(credential: PublicCredential): string {
  return `account ${quoteName(credential.account)} of identity.${credential.realm} (${credential.listener} listener) has a password published in the product's documentation, a well-known default or an empty one; give it a new one (keepd salt) or set "active": false`;
}
