/** JSON values as they come out of JSON.parse, and helpers that never touch prototypes. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own-property read: a key named "constructor" or "__proto__" is data, not the prototype. */
export function getOwn(object: JsonObject, key: string): Json | undefined {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/**
 * Own-property write: `__proto__` from a config file must not change the object's prototype. It is
 * the only key whose assignment does anything but set a property on a plain object, so only it
 * pays for defineProperty (loads of large files set every value through here).
 */
export function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

/** A deep copy of a JSON value (what JSON.parse gives), keeping `__proto__` keys as data. */
export function cloneJson(value: Json): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson);
  const copy: JsonObject = {};
  for (const key of Object.keys(value)) setOwn(copy, key, cloneJson(value[key] ?? null));
  return copy;
}

/** Value at a path, or undefined when any step is missing or not an object. */
export function valueAt(root: Json, path: readonly (string | number)[]): Json | undefined {
  let current: Json | undefined = root;
  for (const step of path) {
    if (Array.isArray(current) && typeof step === 'number') current = current[step];
    else if (isJsonObject(current)) current = getOwn(current, String(step));
    else return undefined;
  }
  return current;
}
