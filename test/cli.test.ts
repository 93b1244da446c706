import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { builtInDefaults } from '../src/config/defaults.js';
import { REPO_ROOT } from './helpers/paths.js';
import { PUBLISHED } from './helpers/published.js';
import { runCli } from './helpers/run-cli.js';
import { runInTerminal } from './helpers/run-in-terminal.js';
import { WORKED_EXAMPLE } from './helpers/worked-example.js';
import { tempDir } from './helpers/temp-dir.js';

const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('keepd CLI', () => {
  it('--version and --help', async () => {
    assert.deepEqual(await runCli(['--version']), { code: 0, stdout: `keepd ${version}\n`, stderr: '' });
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['start', 'check', 'salt', 'verify', '--config-dir', '--sources']) assert.ok(help.stdout.includes(command), command);
  });

  it('refuses unknown commands and options with usage', async () => {
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const badOption = await runCli(['check', '--bogus']);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /Unknown option '--bogus'/);
    assert.equal((await runCli([])).code, 2);
  });

  describe('verify', () => {
    it('exits 0 for the published "password" pair and 1 for passwordx', async () => {
      assert.equal((await runCli(['verify', PUBLISHED.password], { input: 'password' })).code, 0);
      assert.equal((await runCli(['verify', PUBLISHED.password], { input: 'passwordx' })).code, 1);
      assert.equal((await runCli(['verify', PUBLISHED.metrics], { input: 'metrics\n' })).code, 0);
    });

    it('exits 2 for a malformed secret, without echoing it', async () => {
      const run = await runCli(['verify', `${PUBLISHED.password}X`], { input: 'password' });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /malformed secret/);
      assert.ok(!run.stderr.includes(PUBLISHED.password.slice(0, 30)));
      assert.equal((await runCli(['verify'])).code, 2);
    });
  });

  describe('salt', () => {
    it('prints a secret that verify accepts for that password only', async () => {
      const salted = await runCli(['salt'], { input: 'Tr0ub4dor&3' });
      assert.equal(salted.code, 0, salted.stderr);
      const secret = salted.stdout.trim();
      assert.match(secret, /^[0-9A-F]{64}:[0-9A-F]{128}$/);
      assert.equal((await runCli(['verify', secret], { input: 'Tr0ub4dor&3' })).code, 0);
      assert.equal((await runCli(['verify', secret], { input: 'Tr0ub4dor&' })).code, 1);
      assert.equal((await runCli(['verify', secret], { input: 'tr0ub4dor&3' })).code, 1);
    });

    it('drops one trailing newline of a pipe, and only one', async () => {
      const lf = (await runCli(['salt'], { input: 'pw\n' })).stdout.trim();
      assert.equal((await runCli(['verify', lf], { input: 'pw' })).code, 0);
      const crlf = (await runCli(['salt'], { input: 'pw\r\n' })).stdout.trim();
      assert.equal((await runCli(['verify', crlf], { input: 'pw' })).code, 0);
      const two = (await runCli(['salt'], { input: 'pw\n\n' })).stdout.trim();
      assert.equal((await runCli(['verify', two], { input: 'pw\n\n' })).code, 0, 'the password was "pw\\n"');
      assert.equal((await runCli(['verify', two], { input: 'pw' })).code, 1);
      const spaces = (await runCli(['salt'], { input: ' pw ' })).stdout.trim();
      assert.equal((await runCli(['verify', spaces], { input: ' pw ' })).code, 0);
      assert.equal((await runCli(['verify', spaces], { input: 'pw' })).code, 1);
    });

    it('on a terminal, asks twice and never echoes the password', async () => {
      const run = await runInTerminal(['salt'], [
        { prompt: 'Password: ', type: 'hunter2\r' },
        { prompt: 'Again: ', type: 'hunter2\r' },
      ]);
      assert.equal(run.code, 0, run.screen);
      assert.ok(!run.screen.includes('hunter2'), run.screen);
      const secret = /([0-9A-F]{64}:[0-9A-F]{128})/.exec(run.screen)?.[1] ?? '';
      assert.equal((await runCli(['verify', secret], { input: 'hunter2' })).code, 0);

      const mismatch = await runInTerminal(['salt'], [
        { prompt: 'Password: ', type: 'hunter2\r' },
        { prompt: 'Again: ', type: 'hunter3\r' },
      ]);
      assert.equal(mismatch.code, 1);
      assert.match(mismatch.screen, /the two passwords differ/);
    });

    it('on a terminal, verify asks once without echo', async () => {
      const run = await runInTerminal(['verify', PUBLISHED.password], [{ prompt: 'Password: ', type: 'passwordx\u007f\r' }]);
      assert.equal(run.code, 0, 'backspace removed the x');
      assert.ok(!run.screen.includes('passwordx'));
    });

    it('on a terminal, arrow keys move the cursor: they never become part of the password', async () => {
      // hunter2, left arrow (ESC [ D), X: readline inserts the X before the 2.
      const run = await runInTerminal(['salt'], [
        { prompt: 'Password: ', type: 'hunter2\u001b[DX\r' },
        { prompt: 'Again: ', type: 'hunter2\u001b[DX\r' },
      ]);
      assert.equal(run.code, 0, run.screen);
      assert.ok(!run.screen.includes('hunter'), run.screen);
      const secret = /([0-9A-F]{64}:[0-9A-F]{128})/.exec(run.screen)?.[1] ?? '';
      assert.equal((await runCli(['verify', secret], { input: 'hunterX2' })).code, 0, 'the password is hunterX2');
      assert.equal((await runCli(['verify', secret], { input: 'hunter2X' })).code, 1);
      assert.equal((await runCli(['verify', secret], { input: 'hunter\u001b[DX2' })).code, 1);

      // Home (ESC [ H) and Delete (ESC [ 3 ~): Xpassword becomes password.
      const edited = await runInTerminal(['verify', PUBLISHED.password], [{ prompt: 'Password: ', type: 'Xpassword\u001b[H\u001b[3~\r' }]);
      assert.equal(edited.code, 0, edited.screen);
      assert.ok(!edited.screen.includes('password\r') && !edited.screen.includes('Xpass'), edited.screen);
    });

    it('on a terminal, Ctrl-C aborts without printing a secret', async () => {
      const run = await runInTerminal(['salt'], [{ prompt: 'Password: ', type: 'hunter2\u0003' }]);
      assert.equal(run.code, 130, run.screen);
      assert.ok(!/[0-9A-F]{64}:/.test(run.screen), run.screen);
      assert.ok(!run.screen.includes('hunter2'), run.screen);
    });

    it('refuses an empty password', async () => {
      const run = await runCli(['salt'], { input: '\n' });
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
    });
  });

  describe('check', () => {
    it("reproduces the product docs' worked example", async () => {
      const dir = await tempDir({
        '0-product-config.json': WORKED_EXAMPLE.productDefaults,
        'a.json': WORKED_EXAMPLE.aJson,
      });
      const run = await runCli(['check', '--config-dir', dir], { env: WORKED_EXAMPLE.env });
      assert.equal(run.code, 0, run.stderr);
      // keepd's own keys (its other ports, limits, empty identity...) come from its built-in defaults
      const keepdOwn = new Set(Object.keys(builtInDefaults()).filter((key) => key !== 'PORT'));
      const output = Object.fromEntries(Object.entries(JSON.parse(run.stdout) as Record<string, unknown>).filter(([key]) => !keepdOwn.has(key)));
      assert.deepEqual(output, WORKED_EXAMPLE.expected);
    });

    it('--sources shows each value with the file or variable that set it', async () => {
      const dir = await tempDir({ 'a.json': { dance: 'tango', PORT: 1234, identity: { managementAPI: { 'Doctor Notes': { active: true, secret: PUBLISHED.password } } } } });
      const run = await runCli(['check', '--sources', '--config-dir', dir], { env: { PORT: '8564' } });
      assert.equal(run.code, 0, run.stderr);
      const sources = JSON.parse(run.stdout) as Record<string, { value: unknown; source: string }>;
      assert.deepEqual(sources.PORT, { value: 8564, source: 'env:PORT' });
      assert.deepEqual(sources.dance, { value: 'tango', source: 'a.json' });
      assert.deepEqual(sources.HEALTHCHECKPORT, { value: 8886, source: 'default' });
      assert.deepEqual(sources['identity.managementAPI["Doctor Notes"].secret'], { value: '***', source: 'a.json' });
      assert.ok(!run.stdout.includes(PUBLISHED.password));
    });

    it('lists every error of a folder with two broken files and exits 2', async () => {
      const dir = await tempDir({ 'a-broken.json': '{"PORT": 80,,}', 'b-good.json': { HOST: '127.0.0.1' }, 'c-broken.json': { METRICSPORT: 'x' } });
      const run = await runCli(['check', '--config-dir', dir]);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /has 2 problem\(s\)/);
      assert.match(run.stderr, /a-broken\.json:1:13: invalid JSON/);
      assert.match(run.stderr, /c-broken\.json: METRICSPORT: expected an integer/);
    });

    it('checks TLS material as start would, and prints warnings on stderr', async () => {
      const { TLS_CONFIGS } = await import('./helpers/test-config.js');
      const bad = await tempDir({ 'tls.json': { ...TLS_CONFIGS.pfx, TLSPassword: 'wrong' } });
      const run = await runCli(['check', '--config-dir', bad]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /tls\.json: TLSFile: TLS of the data, health, management and metrics listeners: .*server\.pfx: wrong TLSPassword/);
      const good = await tempDir({ 'tls.json': TLS_CONFIGS.pfx });
      const ok = await runCli(['check', '--config-dir', good]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /keepd: warning: no active account in identity\.healthcheckAPI/);
    });

    it('finds the directory from KEEPCONFIG_DIR, and from ./keepconfig.d', async () => {
      const dir = await tempDir({ 'p.json': { PORT: 7777 } });
      const fromEnv = await runCli(['check'], { env: { KEEPCONFIG_DIR: dir } });
      assert.equal((JSON.parse(fromEnv.stdout) as { PORT: number }).PORT, 7777);
      const cwd = await tempDir({});
      const { mkdir, writeFile } = await import('node:fs/promises');
      await mkdir(path.join(cwd, 'keepconfig.d'));
      await writeFile(path.join(cwd, 'keepconfig.d', 'p.json'), '{"PORT": 6666}');
      const fromCwd = await runCli(['check'], { cwd });
      assert.equal((JSON.parse(fromCwd.stdout) as { PORT: number }).PORT, 6666);
      const flagWins = await runCli(['check', '--config-dir', dir], { cwd, env: { KEEPCONFIG_DIR: path.join(cwd, 'keepconfig.d') } });
      assert.equal((JSON.parse(flagWins.stdout) as { PORT: number }).PORT, 7777);
    });
  });
});
