import { yieldToEventLoop } from '../support/yield.js';
import { normalizeAliases } from './aliases.js';
import { builtInDefaults } from './defaults.js';
import { healthcheckLayer, readEnvironment, type Environment } from './env-layer.js';
import type { JsonObject } from './json.js';
import { mergeLayers, type Layer, type SourceTree } from './merge.js';
import type { ConfigProblem } from './problems.js';
import { readConfigDir } from './read-config-dir.js';
import { validateConfig, type KeepConfig } from './schema.js';

/** A configuration that loaded and validated, with where each of its values came from. */
export interface LoadedConfig {
  configDir: string;
  /** Validated view of the keys keepd uses. */
  config: KeepConfig;
  /** Everything that was merged, unknown keys included. */
  merged: JsonObject;
  sources: SourceTree;
  /** The files that were merged, in order. */
  files: string[];
}

/**
 * Turns HEALTHCHECK_PASSWORD into a salted secret. Passed in (accounts/platform-secret.ts) so that
 * the configuration layer stays below the accounts layer.
 */
export type SaltPassword = (password: string) => Promise<string>;

export type AssembleResult = { ok: true; loaded: LoadedConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * Assembles the configuration as the product does: built-in defaults, every `*.json` file of the
 * directory in name order, then the environment. Reports every problem of the load at once.
 */
export async function assembleConfig(configDir: string, env: Environment, salt: SaltPassword): Promise<AssembleResult> {
  const directory = await readConfigDir(configDir);
  const environment = readEnvironment(env);
  const problems: ConfigProblem[] = [...directory.problems, ...environment.problems];

  const layers: Layer[] = [{ source: 'default', data: builtInDefaults() }];
  for (const layer of [...directory.layers, environment.layer]) {
    const normalized = normalizeAliases(layer, (key) => layer.keySources?.[key] ?? layer.source);
    problems.push(...normalized.problems);
    layers.push(normalized.layer);
  }
  if (environment.healthcheck) {
    const { user, password } = environment.healthcheck;
    layers.push(healthcheckLayer(user, await salt(password)));
  }

  // Each step of a large configuration takes tens of milliseconds: requests go first in between.
  await yieldToEventLoop();
  const { config: merged, sources } = mergeLayers(layers);
  await yieldToEventLoop();
  const validation = validateConfig(merged, sources);
  if (!validation.ok) problems.push(...validation.problems);
  if (problems.length > 0 || !validation.ok) return { ok: false, problems };
  return { ok: true, loaded: { configDir, config: validation.config, merged, sources, files: directory.files } };
}
