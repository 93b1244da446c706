import { perListener } from '../config/listener-table.js';
import { Daemon } from '../runtime/daemon.js';
import { StartupError } from '../runtime/startup-error.js';
import { besideProduct, firstRunBanner, generateFirstRun, markPasswordsShown, needsFirstRun, removeFirstRunLeftovers, unshownFirstRun, type FirstRun } from '../runtime/first-run.js';
import { createLogger } from '../support/logger.js';
import { loadConfiguration } from '../runtime/reload.js';
import { handleSignals } from '../runtime/signals.js';
import { formatProblems } from './check.js';
import { EXIT, type CliContext } from './context.js';

async function showFirstRun(ctx: CliContext, firstRun: FirstRun, endpoints: Parameters<typeof firstRunBanner>[1]): Promise<void> {
  ctx.stdout(firstRunBanner(firstRun, endpoints));
  await markPasswordsShown(firstRun);
}

/** `keepd start`: assemble, prepare (TLS included), first run if needed, bind, serve until stopped. */
export async function startCommand(ctx: CliContext, configDir: string, strict: boolean): Promise<number> {
  await removeFirstRunLeftovers(configDir);
  let loaded = await loadConfiguration(configDir, ctx.env, strict);
  let firstRun: FirstRun | undefined;
  if (loaded.ok && needsFirstRun(loaded.prepared.loaded.config)) {
    try {
      firstRun = await generateFirstRun(configDir, { besideProduct: besideProduct(loaded.prepared.loaded.config), acme: loaded.prepared.loaded.config.acme });
    } catch (error) {
      ctx.stderr(
        `keepd: no accounts and no TLS are configured, and the first-run certificate and accounts cannot be written to ${configDir}: ` +
          `${error instanceof Error ? error.message : String(error)}. Make the directory writable, or configure TLS and accounts (see keepconfig.d/*.json.example).\n`,
      );
      return EXIT.failed;
    }
    loaded = await loadConfiguration(configDir, ctx.env, strict);
  }
  if (!loaded.ok) {
    ctx.stderr(formatProblems(configDir, loaded.problems));
    return EXIT.usage;
  }
  const preparation = loaded;

  const logger = await createLogger({ level: preparation.prepared.loaded.config.LOG_LEVEL, pretty: process.stdout.isTTY });
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(preparation.prepared, { configDir, env: ctx.env, logger, strict });
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    // The first-run accounts stay for the next start: their passwords must not be lost with this one.
    if (firstRun) await showFirstRun(ctx, firstRun, {});
    ctx.stderr(`keepd: cannot start:\n${error.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
    return error.exitCode;
  }
  const removeHandlers = handleSignals(daemon, logger);
  if (firstRun) {
    const endpoints = perListener((name) => {
      const listener = daemon.listener(name);
      return listener ? { address: listener.address, port: listener.port } : undefined;
    });
    await showFirstRun(ctx, firstRun, Object.fromEntries(Object.entries(endpoints).filter((entry): entry is [string, { address: string; port: number }] => entry[1] !== undefined)));
  } else {
    const unshown = await unshownFirstRun(configDir);
    if (unshown !== undefined) {
      ctx.stderr(`keepd: warning: ${unshown}\n`);
      logger.warn(unshown);
    }
  }
  await daemon.stopped;
  removeHandlers();
  return EXIT.ok;
}
