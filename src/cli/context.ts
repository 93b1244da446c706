import type { Environment } from '../config/env-layer.js';

/** What a command may touch besides its arguments: kept explicit so commands stay testable. */
export interface CliContext {
  env: Environment;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
