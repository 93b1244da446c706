import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { SECRET_PATTERN } from '../config/secret-format.js';

const pbkdf2Async = promisify(pbkdf2);

/** The product's salted secret: PBKDF2-HMAC-SHA256, 32768 iterations, 64-byte salt, 32-byte key. */
export const SECRET_PARAMETERS = { digest: 'sha256', iterations: 32768, saltBytes: 64, keyBytes: 32 } as const;


export interface SaltedSecret {
  readonly hash: Buffer;
  readonly salt: Buffer;
}

/**
 * Parses a stored secret. The whole string is checked first: Buffer.from(x, 'hex') would
 * silently stop at the first bad character and verify against a truncated salt.
 */
export function parseSecret(secret: string): SaltedSecret | undefined {
  if (!SECRET_PATTERN.test(secret)) return undefined;
  const [hashHex = '', saltHex = ''] = secret.split(':');
  return { hash: Buffer.from(hashHex, 'hex'), salt: Buffer.from(saltHex, 'hex') };
}

function derive(password: string, salt: Buffer): Promise<Buffer> {
  const { digest, iterations, keyBytes } = SECRET_PARAMETERS;
  // Asynchronous: the ~10 ms of PBKDF2 runs on the libuv pool, not on the event loop.
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, keyBytes, digest);
}

export function formatSecret(secret: SaltedSecret): string {
  return `${secret.hash.toString('hex').toUpperCase()}:${secret.salt.toString('hex').toUpperCase()}`;
}

/** A new secret for a password, with a fresh salt from the CSPRNG. */
export async function createSecret(password: string): Promise<string> {
  const salt = randomBytes(SECRET_PARAMETERS.saltBytes);
  return formatSecret({ hash: await derive(password, salt), salt });
}

/** Constant-time check of a password against a stored secret. */
export async function verifyPassword(secret: SaltedSecret, password: string): Promise<boolean> {
  const derived = await derive(password, secret.salt);
  return derived.length === secret.hash.length && timingSafeEqual(derived, secret.hash);
}

/**
 * A secret no password matches in practice (random hash and salt), verified for unknown users so
 * that they cost the same PBKDF2 as known ones and timing does not reveal which accounts exist.
 */
export function unmatchableSecret(): SaltedSecret {
  return { hash: randomBytes(SECRET_PARAMETERS.keyBytes), salt: randomBytes(SECRET_PARAMETERS.saltBytes) };
}
