#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=256
// The V8 flags above keep the daemon's memory small under load (young generation of 1 MB per
// semi-space instead of 16; see docs/benchmarks.md). They apply when keepd runs as a program
// (`keepd`, `npm start`, `./dist/keepd.mjs`), not under `node dist/keepd.mjs`.
import { parseArgs } from 'node:util';
import { resolveConfigDir } from '../config/config-dir.js';
import { VERSION } from '../support/package-info.js';
import { checkCommand } from './check.js';
import { EXIT, type CliContext } from './context.js';
import { PasswordInputCancelled } from './read-password.js';
import { reloadCommand } from './reload.js';
import { saltCommand, verifyCommand } from './salt.js';
import { startCommand } from './start.js';

const USAGE = `Usage: keepd <command> [options]

Commands:
  start  [--config-dir DIR] [--strict]  start the data, health, management and metrics listeners (and
                                        the front listener when enabled); --strict refuses accounts
                                        with public example passwords
  check  [--config-dir DIR] [--sources] [--strict]
                                        assemble and validate the configuration; print it masked
                                        (with --sources: each key's value and the file or variable that set it)
  reload [--config-dir DIR] [--url URL] [--user NAME] [--cacert FILE] [--insecure]
                                        ask the running keepd to re-read its configuration (like
                                        \`tell restapi reload\`); password from $KEEPD_PASSWORD or stdin
  salt                                  read a password from stdin, print a new salted secret
  verify SECRET                         read a password from stdin; exit 0 if it matches SECRET, 1 if not

Options:
  --config-dir DIR  configuration directory (default: $KEEPCONFIG_DIR, else ./keepconfig.d)
  --url URL         reload: the management listener (default: $KEEPD_MANAGEMENT_URL, else found
                    from the configuration: https://localhost:MANAGMENTPORT)
  --user NAME       reload: a management account (default: $KEEPD_USER)
  --cacert FILE     reload: CA to verify the management certificate (default: $KEEPD_CACERT, else the
                    system's, plus PEMCert of a pem configuration)
  --insecure        reload: do not verify the management certificate
  -h, --help        show this help
  -v, --version     show the version

Exit codes: 0 success, 1 failure (verify: no match; reload: refused), 2 invalid usage or configuration.
`;

async function run(argv: string[], ctx: CliContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'config-dir': { type: 'string' },
        sources: { type: 'boolean', default: false },
        url: { type: 'string' },
        user: { type: 'string' },
        cacert: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    ctx.stderr(`keepd: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    ctx.stdout(`keepd ${VERSION}\n`);
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? ctx.stderr : ctx.stdout)(USAGE);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  const configDir = resolveConfigDir(values['config-dir'], ctx.env, ctx.cwd);
  switch (command) {
    case 'check':
      return checkCommand(ctx, configDir, values.sources, values.strict);
    case 'salt':
      return saltCommand(ctx);
    case 'reload':
      return reloadCommand(ctx, { configDir, url: values.url, user: values.user, cacert: values.cacert, insecure: values.insecure });
    case 'verify':
      return verifyCommand(ctx, rest[0]);
    case 'start':
      // A stopped daemon may leave timers of its libraries behind; its work is done.
      return process.exit(await startCommand(ctx, configDir, values.strict));
    default:
      ctx.stderr(`keepd: unknown command "${command}"\n\n${USAGE}`);
      return EXIT.usage;
  }
}

const context: CliContext = {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

run(process.argv.slice(2), context).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof PasswordInputCancelled) {
      process.exitCode = 130;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`keepd: ${message}\n`);
    process.exitCode = EXIT.failed;
  },
);
