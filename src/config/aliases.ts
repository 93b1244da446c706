import { getOwn, isJsonObject, setOwn, type Json, type JsonObject } from './json.js';
import type { Layer } from './merge.js';
import type { ConfigProblem } from './problems.js';

/** The management port's key is spelled MANAGMENTPORT (sic); older product files use these. */
export const MANAGEMENT_PORT_KEY = 'MANAGMENTPORT';
export const MANAGEMENT_PORT_ALIASES = ['MANAGEMENTPORT', 'ADMINPORT'] as const;

/**
 * The product keeps its runtime-metrics switch under `metrics` (docs/howto/production/metrics.md);
 * keepd read a top-level `jvmMetricsEnabled` before, which stays as another name for it.
 */
export const JVM_METRICS_SECTION = 'metrics';
export const JVM_METRICS_KEY = 'jvmMetricsEnabled';
export const JVM_METRICS_ALIAS = 'jvmMetricsEnabled';

const same = (a: Json | undefined, b: Json | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

/** MANAGMENTPORT and its top-level aliases. */
function normalizeManagementPort(layer: Layer, sourceOf: (key: string) => string): { layer: Layer; problems: ConfigProblem[] } {
  const spellings = [MANAGEMENT_PORT_KEY, ...MANAGEMENT_PORT_ALIASES].filter((key) => getOwn(layer.data, key) !== undefined);
  const first = spellings[0];
  if (first === undefined || (spellings.length === 1 && first === MANAGEMENT_PORT_KEY)) return { layer, problems: [] };

  const problems: ConfigProblem[] = [];
  const chosen = getOwn(layer.data, first);
  for (const other of spellings.slice(1)) {
    if (!same(getOwn(layer.data, other), chosen)) {
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

/**
 * A top-level `jvmMetricsEnabled` becomes `metrics.jvmMetricsEnabled` of the same layer, so that a
 * later layer overrides it with either spelling. Both in one layer with different values: an error,
 * as for ADMINPORT. A `metrics` that is not an object is left for the schema to report.
 */
function normalizeJvmMetrics(layer: Layer, sourceOf: (key: string) => string): { layer: Layer; problems: ConfigProblem[] } {
  const alias = getOwn(layer.data, JVM_METRICS_ALIAS);
  const section = getOwn(layer.data, JVM_METRICS_SECTION);
  if (alias === undefined || (section !== undefined && !isJsonObject(section))) return { layer, problems: [] };

  const problems: ConfigProblem[] = [];
  const canonical = section === undefined ? undefined : getOwn(section, JVM_METRICS_KEY);
  if (canonical !== undefined && !same(canonical, alias)) {
    problems.push({
      source: sourceOf(JVM_METRICS_ALIAS),
      path: JVM_METRICS_ALIAS,
      message: `conflicts with ${JVM_METRICS_SECTION}.${JVM_METRICS_KEY} in the same place; ${JVM_METRICS_ALIAS} is another name for ${JVM_METRICS_SECTION}.${JVM_METRICS_KEY}, set only one`,
    });
  }
  const metrics: JsonObject = {};
  if (section !== undefined) for (const [key, value] of Object.entries(section)) setOwn(metrics, key, value);
  if (canonical === undefined) setOwn(metrics, JVM_METRICS_KEY, alias);
  const data: JsonObject = {};
  for (const [key, value] of Object.entries(layer.data)) {
    if (key !== JVM_METRICS_ALIAS && key !== JVM_METRICS_SECTION) setOwn(data, key, value);
  }
  setOwn(data, JVM_METRICS_SECTION, metrics);
  // Provenance is per top-level key: `metrics` is labelled with the alias only when the alias is all of it.
  const keySources = section === undefined ? { ...layer.keySources, [JVM_METRICS_SECTION]: `${sourceOf(JVM_METRICS_ALIAS)} (as ${JVM_METRICS_ALIAS})` } : layer.keySources;
  return { layer: { ...layer, data, ...(keySources ? { keySources } : {}) }, problems };
}

/**
 * Rewrites alias keys of one layer to the canonical key, so that later layers override them like
 * any other key. Provenance keeps the spelling that was used; two spellings with different values
 * in the same layer are an error rather than a silent pick.
 */
export function normalizeAliases(layer: Layer, sourceOf: (key: string) => string): { layer: Layer; problems: ConfigProblem[] } {
  const port = normalizeManagementPort(layer, sourceOf);
  const jvm = normalizeJvmMetrics(port.layer, sourceOf);
  return { layer: jvm.layer, problems: [...port.problems, ...jvm.problems] };
}
