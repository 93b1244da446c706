import { createHmac, randomBytes } from 'node:crypto';
import { createSecret } from './secret.js';

/*
 * HEALTHCHECK_PASSWORD (a plain password from the platform, e.g. a Kubernetes Secret) is salted
 * once per process and value, so that reloads keep the same stored secret and with it their
 * verification-cache entries. The memo is keyed by an HMAC under a per-process key, never the password.
 */
const memoKey = randomBytes(32);
const memo = new Map<string, string>();

/** The salted secret of a platform password; the same one for the same password within a process. */
export async function saltPlatformPassword(password: string): Promise<string> {
  const id = createHmac('sha256', memoKey).update(password, 'utf8').digest('base64');
  const known = memo.get(id);
  if (known !== undefined) return known;
  const secret = await createSecret(password);
  memo.clear();
  memo.set(id, secret);
  return secret;
}
