import { readFile } from 'node:fs/promises';
import { displayAccountName } from '../config/account-name.js';
import type { ReloadOutcome } from '../listeners/reload-outcome.js';
import { EXIT, type CliContext } from './context.js';
import { callManagement, ManagementClientError, managementTargetFromConfig, type ManagementTarget } from './management-client.js';
import { readPassword } from './read-password.js';

export interface ReloadOptions {
  configDir: string;
  url: string | undefined;
  user: string | undefined;
  cacert: string | undefined;
  insecure: boolean;
}

function isOutcome(body: unknown): body is ReloadOutcome {
  return typeof body === 'object' && body !== null && 'status' in body && 'generation' in body;
}

async function target(ctx: CliContext, options: ReloadOptions): Promise<ManagementTarget> {
  const url = options.url ?? ctx.env.KEEPD_MANAGEMENT_URL;
  const cacert = options.cacert ?? ctx.env.KEEPD_CACERT;
  const base = url === undefined ? await managementTargetFromConfig(options.configDir, ctx.env) : { url: new URL(url), ca: undefined, insecure: false };
  const ca = cacert === undefined ? base.ca : [await readFile(cacert, 'utf8')];
  return { ...base, ca, insecure: options.insecure };
}

/**
 * `keepd reload`: the counterpart of `tell restapi reload`. Asks the running keepd, through its
 * management listener, to re-read its configuration; prints what it applied or why it refused.
 */
export async function reloadCommand(ctx: CliContext, options: ReloadOptions): Promise<number> {
  const user = options.user ?? ctx.env.KEEPD_USER;
  if (user === undefined || user === '') {
    ctx.stderr('keepd reload: give a management account with --user NAME (or KEEPD_USER); the password comes from KEEPD_PASSWORD or stdin\n');
    return EXIT.usage;
  }
  try {
    const where = await target(ctx, options);
    const password = ctx.env.KEEPD_PASSWORD ?? (await readPassword(`Password for ${user}: `));
    const answer = await callManagement(where, 'POST', '/reload', user, password);
    if (answer.status === 401) {
      ctx.stderr(`keepd reload: ${where.url.origin} refused the credentials of "${displayAccountName(user)}" (401): use an active account of identity.managementAPI\n`);
      return EXIT.usage;
    }
    if (!isOutcome(answer.body)) {
      ctx.stderr(`keepd reload: unexpected answer ${answer.status} from ${where.url.origin}: ${JSON.stringify(answer.body)}\n`);
      return EXIT.usage;
    }
    const outcome = answer.body;
    switch (outcome.status) {
      case 'unchanged':
        ctx.stdout(`keepd: configuration unchanged (generation ${outcome.generation})\n`);
        return EXIT.ok;
      case 'applied':
        ctx.stdout(`keepd: configuration generation ${outcome.generation} applied${outcome.changes.length > 0 ? `:\n${outcome.changes.map((c) => `  - ${c}\n`).join('')}` : '\n'}`);
        if (outcome.errors.length === 0) return EXIT.ok;
        ctx.stderr(`keepd: but:\n${outcome.errors.map((e) => `  - ${e}\n`).join('')}`);
        return EXIT.failed;
      case 'rejected':
        ctx.stderr(`keepd: configuration refused; still serving generation ${outcome.generation}:\n${outcome.problems.map((p) => `  - ${p}\n`).join('')}`);
        return EXIT.failed;
    }
  } catch (error) {
    if (!(error instanceof ManagementClientError)) throw error;
    ctx.stderr(`keepd reload: ${error.message}\n`);
    return EXIT.usage;
  }
}
