import { createHash, timingSafeEqual } from 'node:crypto';
import { PUBLIC_PASSWORDS, PUBLISHED_SECRETS } from './public-credentials.js';
import { parseSecret, verifyPassword } from './secret.js';

/*
 * The configured `shutdownkey`: a salted secret (as `keepd salt` makes), or, as older product
 * configurations hold it, the plain passphrase itself. Both are accepted; a plain one is warned about.
 */

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Whether `offered` is the configured key. A plain key is compared in constant time over equal-length digests. */
export async function matchesShutdownKey(stored: string, offered: string, run: <T>(work: () => Promise<T>) => Promise<T>): Promise<boolean> {
  const secret = parseSecret(stored);
  // PBKDF2 through the verification limiter, like logins.
  if (secret) return run(() => verifyPassword(secret, offered));
  return timingSafeEqual(sha256(stored), sha256(offered));
}

/** The warning for a plain configured key, or undefined for a salted one. Never contains the key. */
export function plainShutdownKeyWarning(stored: string | undefined): string | undefined {
  if (stored === undefined || parseSecret(stored)) return undefined;
  return 'shutdownkey is a plain passphrase (as older product configurations hold it): it is accepted, but anyone who reads the configuration files can stop keepd; store a salted one instead, made by `keepd salt` (or POST /encode)';
}

/** The product's scripts' key (pre_shutdown_script, startkeepmac.sh, the Postman collections). */
export const PRODUCT_SHUTDOWN_KEY = 'The End is near!!';

/**
 * The warning for a configured key that is public: a plain one on the list of public passwords, a
 * salted one the docs publish or that opens with the product scripts' key (one PBKDF2, remembered).
 */
const saltedVerdicts = new Map<string, Promise<boolean>>();
export async function publicShutdownKeyWarning(stored: string | undefined): Promise<string | undefined> {
  if (stored === undefined) return undefined;
  const secret = parseSecret(stored);
  let open: boolean;
  if (!secret) open = (PUBLIC_PASSWORDS as readonly string[]).includes(stored);
  else {
    const key = stored.toUpperCase();
    let verdict = saltedVerdicts.get(key);
    if (!verdict) {
      verdict = PUBLISHED_SECRETS.has(key) ? Promise.resolve(true) : verifyPassword(secret, PRODUCT_SHUTDOWN_KEY);
      saltedVerdicts.clear(); // one configured key at a time
      saltedVerdicts.set(key, verdict);
    }
    open = await verdict;
  }
  return open ? "shutdownkey is published in the product's documentation or scripts (the key of the product's scripts, for one): anyone with a management account can stop keepd; choose a new one and store it salted (keepd salt)" : undefined;
}
