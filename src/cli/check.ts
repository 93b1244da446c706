import { maskConfig } from '../config/mask.js';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import { listSources } from '../config/provenance.js';
import { describePublicCredential, findPublicCredentials } from '../accounts/public-credentials.js';
import { loadConfiguration } from '../runtime/reload.js';
import { EXIT, type CliContext } from './context.js';

export function formatProblems(configDir: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((problem) => `  - ${formatProblem(problem)}`);
  return `keepd: the configuration in ${configDir} has ${problems.length} problem(s):\n${lines.join('\n')}\n`;
}

/**
 * `keepd check`: everything `keepd start` checks before binding (files, schema, TLS material,
 * public passwords), then the masked effective config on stdout; warnings on stderr.
 */
export async function checkCommand(ctx: CliContext, configDir: string, withSources: boolean, strict: boolean): Promise<number> {
  const preparation = await loadConfiguration(configDir, ctx.env, strict);
  if (!preparation.ok) {
    ctx.stderr(formatProblems(configDir, preparation.problems));
    return EXIT.usage;
  }
  const { loaded, warnings, accounts } = preparation.prepared;
  const publicPasswords = (await findPublicCredentials(accounts)).map(describePublicCredential);
  for (const warning of [...warnings, ...publicPasswords]) ctx.stderr(`keepd: warning: ${warning}\n`);
  const masked = maskConfig(loaded.merged);
  const output = withSources ? listSources(masked, loaded.sources) : masked;
  ctx.stdout(`${JSON.stringify(output, null, 2)}\n`);
  return EXIT.ok;
}
