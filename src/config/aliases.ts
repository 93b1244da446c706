import { getOwn, setOwn, type JsonObject } from './json.js';
import type { Layer } from './merge.js';
import type { ConfigProblem } from './problems.js';

/** The management port's key is spelled MANAGMENTPORT (sic); older product files use these. */
export const MANAGEMENT_PORT_KEY = 'MANAGMENTPORT';
export const MANAGEMENT_PORT_ALIASES = ['MANAGEMENTPORT', 'ADMINPORT'] as const;

/**
 * Rewrites alias keys of one layer to the canonical key, so that later layers override them like
 * any other key. Provenance keeps the spelling that was used; two spellings with different values
 * in the same layer are an error rather than a silent pick.
 */
export function normalizeAliases(layer: Layer, sourceOf: (key: string) => string): { layer: Layer; problems: ConfigProblem[] } {
  const spellings = [MANAGEMENT_PORT_KEY, ...MANAGEMENT_PORT_ALIASES].filter((key) => getOwn(layer.data, key) !== undefined);
  const first = spellings[0];
  if (first === undefined || (spellings.length === 1 && first === MANAGEMENT_PORT_KEY)) return { layer, problems: [] };

  const problems: ConfigProblem[] = [];
  const chosen = getOwn(layer.data, first);
  for (const other of spellings.slice(1)) {
    if (JSON.stringify(getOwn(layer.data, other)) !== JSON.stringify(chosen)) {
      problems.push({
        source: sourceOf(other),
        path: other,
        message: `conflicts with ${first} in the same place; ${other} is another name for ${MANAGEMENT_PORT_KEY}, set only one`,
      });
    }
  }
  const data: JsonObject = {};
  for (const [key, value] of Object.entries(layer.data)) {
    if (!(MANAGEMENT_PORT_ALIASES as readonly string[]).includes(key)) setOwn(data, key, value);
  }
  if (chosen !== undefined) setOwn(data, MANAGEMENT_PORT_KEY, chosen);
  // `env:ADMINPORT` already names the spelling; a file name does not.
  const origin = sourceOf(first);
  const label = first === MANAGEMENT_PORT_KEY || origin.endsWith(`:${first}`) ? origin : `${origin} (as ${first})`;
  return { layer: { ...layer, data, keySources: { ...layer.keySources, [MANAGEMENT_PORT_KEY]: label } }, problems };
}
