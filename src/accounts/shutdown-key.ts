import { createHash, timingSafeEqual } from 'node:crypto';
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
