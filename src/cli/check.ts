import { acmeStateLines } from '../acme/state-report.js';
import { maskConfig } from '../config/mask.js';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import { listSources } from '../config/provenance.js';
import type { AccountIndex } from '../accounts/accounts.js';
import { describePublicCredential, findPublicCredentials, PUBLIC_PASSWORDS, type PublicCredential } from '../accounts/public-credentials.js';
import { loadConfiguration } from '../runtime/reload.js';
import { EXIT, type CliContext } from './context.js';

/** How long `keepd check` spends looking for public passwords: 10,000 new secrets would take many minutes. */
const SCAN_BUDGET_MS = 10_000;

async function boundedScan(accounts: AccountIndex): Promise<{ found: PublicCredential[]; checked: number; total: number }> {
  const total = [...accounts.values()].reduce((sum, realm) => sum + realm.size, 0);
  let checked = 0;
  const signal = AbortSignal.timeout(SCAN_BUDGET_MS);
  const found = await findPublicCredentials(accounts, { onProgress: (n) => (checked = n), signal });
  return { found, checked, total };
}

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
  const { loaded, warnings, accounts, acme } = preparation.prepared;
  for (const line of acme ? await acmeStateLines(acme.settings, acme.stored) : []) ctx.stderr(`keepd: acme: ${line}\n`);
  const scan = await boundedScan(accounts);
  for (const warning of [...warnings, ...scan.found.map(describePublicCredential)]) ctx.stderr(`keepd: warning: ${warning}\n`);
  if (scan.checked < scan.total) {
    ctx.stderr(
      `keepd: note: checked ${scan.checked} of ${scan.total} accounts for public passwords in ${SCAN_BUDGET_MS / 1000} s (each new secret costs up to ${PUBLIC_PASSWORDS.length} PBKDF2 runs); ` +
        'a running keepd checks them all in the background (GET /health: components.accounts.scan), and keepd check --strict waits for all\n',
    );
  }
  const masked = maskConfig(loaded.merged);
  const output = withSources ? listSources(masked, loaded.sources) : masked;
  ctx.stdout(`${JSON.stringify(output, null, 2)}\n`);
  return EXIT.ok;
}
