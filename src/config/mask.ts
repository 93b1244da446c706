import { isJsonObject, setOwn, type Json, type JsonObject } from './json.js';

export const MASK = '***';

/** Key names that say "this is a secret": passwords, salted secrets, keys and other credentials. */
const SECRET_KEY_NAME = /pass(word|wd|phrase)?|secret|token|credential|private|key$|^key|apikey|api_key/i;

/** Values that are secrets whatever their key: salted secrets and PEM blocks (key material). */
const SALTED_SECRET_VALUE = /^[0-9a-f]{64}:[0-9a-f]{128}$/i;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----/;

export function isSecretKeyName(key: string): boolean {
  return SECRET_KEY_NAME.test(key);
}

/** Keys under `identity` whose values are not secret. */
const PLAIN_ACCOUNT_KEYS = new Set(['active', 'CN']);

/**
 * True when a key path leads to, or lies inside, something secret. Under `identity` everything
 * but `active` and `CN` counts: a password pasted where an account or its secret belongs must not
 * be echoed back in an error message.
 */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  const last = path[path.length - 1];
  if (path[0] === 'identity' && !(typeof last === 'string' && PLAIN_ACCOUNT_KEYS.has(last))) return true;
  return path.some((step) => typeof step === 'string' && isSecretKeyName(step));
}

function looksLikeSecretValue(value: string): boolean {
  return SALTED_SECRET_VALUE.test(value) || PEM_BLOCK.test(value);
}

function maskValue(value: Json, insideSecret: boolean): Json {
  if (Array.isArray(value)) return value.map((item) => maskValue(item, insideSecret));
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      setOwn(out, key, maskValue(child, insideSecret || isSecretKeyName(key)));
    }
    return out;
  }
  if (value === null || typeof value === 'boolean') return insideSecret ? MASK : value;
  if (insideSecret) return MASK;
  return typeof value === 'string' && looksLikeSecretValue(value) ? MASK : value;
}

/** A deep copy of the configuration with every secret value replaced by `***`. */
export function maskConfig(config: JsonObject): JsonObject {
  const masked = maskValue(config, false);
  return isJsonObject(masked) ? masked : {};
}
