import { assembleConfig } from '../config/assemble.js';
import { maskConfig } from '../config/mask.js';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import { listSources } from '../config/provenance.js';
import { EXIT, type CliContext } from './context.js';

export function formatProblems(configDir: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((problem) => `  - ${formatProblem(problem)}`);
  return `keepd: the configuration in ${configDir} has ${problems.length} problem(s):\n${lines.join('\n')}\n`;
}

/** `keepd check`: assemble and validate; print the masked effective config, or every problem. */
export async function checkCommand(ctx: CliContext, configDir: string, withSources: boolean): Promise<number> {
  const result = await assembleConfig(configDir, ctx.env);
  if (!result.ok) {
    ctx.stderr(formatProblems(configDir, result.problems));
    return EXIT.usage;
  }
  const masked = maskConfig(result.loaded.merged);
  const output = withSources ? listSources(masked, result.loaded.sources) : masked;
  ctx.stdout(`${JSON.stringify(output, null, 2)}\n`);
  return EXIT.ok;
}
