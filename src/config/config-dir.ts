import path from 'node:path';
import type { Environment } from './env-layer.js';

export const DEFAULT_CONFIG_DIR = 'keepconfig.d';

/** `--config-dir`, else `KEEPCONFIG_DIR`, else `./keepconfig.d`; relative paths against `cwd`. */
export function resolveConfigDir(flag: string | undefined, env: Environment, cwd: string): string {
  const chosen = flag ?? (env.KEEPCONFIG_DIR === '' ? undefined : env.KEEPCONFIG_DIR) ?? DEFAULT_CONFIG_DIR;
  return path.resolve(cwd, chosen);
}
