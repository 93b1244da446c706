import { reachesListener } from './addresses.js';
import { getOwn, isJsonObject, type JsonObject } from './json.js';
import { isRealmListener, LISTENER_NAMES, LISTENERS } from './listener-table.js';

/* Rules between keys, checked on the raw merged JSON (schema.ts reports them with the schema's problems). */

/** A rule between keys, checked on the raw merged JSON so that it is reported even when other keys are invalid. */
export interface Relation {
  path: string[];
  message: string;
  /** The key whose setting makes this one required: its file is the one to fix. */
  setBy?: string[];
}

function stringAt(block: JsonObject, key: string): string | undefined {
  const value = getOwn(block, key);
  return typeof value === 'string' ? value : undefined;
}

function tlsRelations(block: JsonObject, prefix: string[]): Relation[] {
  const type = stringAt(block, 'TLSType');
  const has = (key: string): boolean => getOwn(block, key) !== undefined;
  const out: Relation[] = [];
  if (prefix.length > 0 && !has('TLSFile') && !has('TLSType') && (has('TLSPassword') || has('PEMCert'))) {
    out.push({ path: [...prefix, 'TLSFile'], message: "is required: a listener block with TLS keys defines that listener's TLS completely (TLSFile, TLSType, and TLSPassword/PEMCert as needed)" });
  }
  if (type === 'pem' && !has('PEMCert')) {
    out.push({ path: [...prefix, 'PEMCert'], setBy: [...prefix, 'TLSType'], message: 'is required when TLSType is "pem": the path of the certificate chain (TLSFile is the private key)' });
  }
  if (has('TLSFile') && !has('TLSType')) {
    out.push({ path: [...prefix, 'TLSType'], setBy: [...prefix, 'TLSFile'], message: 'is required when TLSFile is set: "pfx", "jks" or "pem"' });
  }
  if (has('certificates') && !has('TLSFile') && !has('TLSType')) {
    // Without a main certificate of the same place, these would be ignored without a word.
    out.push({
      path: [...prefix, 'certificates'],
      message:
        prefix.length > 0
          ? "are used only with the block's own TLS keys (TLSFile, TLSType): without them this listener serves the top-level TLS and its certificates"
          : 'need the main certificate next to them (TLSFile, TLSType): it serves the names none of them has',
    });
  }
  if (has('TLSType') && !has('TLSFile')) {
    out.push({ path: [...prefix, 'TLSFile'], setBy: [...prefix, 'TLSType'], message: `is required when TLSType is set: the ${type === 'pem' ? 'private key' : 'keystore'} file` });
  }
  return out;
}

/** An upstream on keepd's own data port: every request would come back to keepd. */
function upstreamLoop(merged: JsonObject, data: JsonObject | undefined): Relation[] {
  const upstream = data ? getOwn(data, 'upstream') : undefined;
  const url = isJsonObject(upstream) ? stringAt(upstream, 'url') : undefined;
  const port = getOwn(merged, 'PORT');
  if (url === undefined || !URL.canParse(url) || typeof port !== 'number' || port === 0) return [];
  const bound = stringAt(data ?? {}, 'HOST') ?? stringAt(merged, 'HOST');
  if (!reachesListener(new URL(url), port, bound)) return [];
  return [
    {
      path: ['listeners', 'data', 'upstream', 'url'],
      message: `points at keepd's own data port ${port}: keepd would proxy to itself. Move the product's data port (PORT=18880 in the product's environment, docs/gateway.md) and point the url there`,
    },
  ];
}

/** Rules between keys: TLS keys that need each other, and one port per enabled listener. */
export function relationProblems(merged: JsonObject): Relation[] {
  const out = tlsRelations(merged, []);
  const blocks = getOwn(merged, 'listeners');
  const block = (name: string): JsonObject | undefined => {
    const value = isJsonObject(blocks) ? getOwn(blocks, name) : undefined;
    return isJsonObject(value) ? value : undefined;
  };
  for (const name of LISTENER_NAMES) {
    const own = block(name);
    if (own) out.push(...tlsRelations(own, ['listeners', name]));
  }
  out.push(...upstreamLoop(merged, block('data')));
  const metrics = getOwn(merged, 'metrics');
  const seen = new Map<number, string>();
  for (const name of LISTENER_NAMES) {
    const enabled = getOwn(block(name) ?? {}, 'enabled');
    // The front listener is off unless turned on; the others are on unless turned off.
    const off = isRealmListener(name) ? enabled === false || (name === 'metrics' && isJsonObject(metrics) && getOwn(metrics, 'enabled') === false) : enabled !== true;
    const path = isRealmListener(name) ? [LISTENERS[name].portKey] : ['listeners', name, 'port'];
    const port = isRealmListener(name) ? getOwn(merged, LISTENERS[name].portKey) : getOwn(block(name) ?? {}, 'port');
    if (off || typeof port !== 'number' || port === 0) continue;
    const other = seen.get(port);
    const key = path.join('.');
    if (other !== undefined) out.push({ path, message: `uses port ${port}, like ${other}; each listener needs a port of its own` });
    seen.set(port, key);
  }
  return out;
}
