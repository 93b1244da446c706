import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createSecret } from '../src/accounts/secret.js';
import { request } from './helpers/http-client.js';
import { startKeepd, type KeepdProcess } from './helpers/keepd-process.js';
import { REPO_ROOT } from './helpers/paths.js';
import { runCli } from './helpers/run-cli.js';
import { freePort } from './helpers/free-port.js';
import { tempDir } from './helpers/temp-dir.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';

/*
 * The management console in a real browser (Debian's Chromium driven by playwright-core)
 * against a real keepd. Each step waits for what the page shows, never for a fixed time.
 */
const CHROMIUM = '/usr/bin/chromium';
/**
 * Where the screenshots go: a temporary folder, so that `npm test` leaves the tree as it was;
 * `npm run screenshots` points KEEPD_SCREENSHOTS at docs/console, the committed ones.
 */
const SHOTS = process.env.KEEPD_SCREENSHOTS === undefined ? mkdtempSync(path.join(tmpdir(), 'keepd-console-shots-')) : path.resolve(REPO_ROOT, process.env.KEEPD_SCREENSHOTS);
const SHUTDOWN_KEY = 'console-stop-key';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const TABS = ['home', 'status', 'config', 'sources', 'throttled', 'logs', 'support'] as const;
/** What each tab shows once it has loaded. */
const LOADED: Record<(typeof TABS)[number], string> = {
  home: '#h-salt',
  status: '#generation',
  config: '#config-body pre.json',
  sources: '#sources-body table',
  throttled: '#throttled-body table',
  logs: '#log-lines li',
  support: '#support-download',
};

describe('management console', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`, timeout: 120_000 }, () => {
  let keepd: KeepdProcess;
  let dir: string;
  let users: object;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const base = (): string => `https://127.0.0.1:${keepd.ports.management ?? 0}`;
  const asAdmin = { auth: [...USERS.management] as [string, string] };
  /** Writes a configuration file whole (written beside the folder, then renamed in): the watcher never sees half of it. */
  const put = async (name: string, content: object): Promise<void> => {
    const staged = `${dir}-${name}`;
    await writeFile(staged, JSON.stringify(content));
    await rename(staged, path.join(dir, name));
  };
  const tab = async (id: (typeof TABS)[number]): Promise<void> => {
    await page.click(`#tab-${id}`);
    await page.locator(LOADED[id]).first().waitFor();
  };

  before(async () => {
    users = await functionalUsers();
    dir = await tempDir({
      'functionalUsers.json': users,
      // Not exempt, and two failures block: the throttled-clients page has a client to release.
      'ports.json': { ...TEST_BASE, loginRateLimit: { exemptLoopback: false, maxFailures: 2 } },
      'tls.json': { ...TLS_CONFIGS.pfx },
      'product.json': { shutdownkey: await createSecret(SHUTDOWN_KEY), watch: { debounceMs: 50 } },
      // The data listener in front of a product that is not running: Status shows it unreachable, and why.
      'upstream.json': { listeners: { data: { upstream: { url: `http://127.0.0.1:${await freePort()}` } } } },
      // The data listener's certificate from an ACME CA that is not running: Status shows the attempt failing.
      'acme.json': { acme: { directory: `https://127.0.0.1:${await freePort()}/dir`, domains: ['console.keepd.test'], listeners: ['data'], stateDir: path.join(await tempDir(), 'acme') } },
    });
    keepd = await startKeepd(dir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({
      // The browser's Basic-auth prompt, answered with the management account on every request.
      httpCredentials: { username: USERS.management[0], password: USERS.management[1], send: 'always' },
      // Chromium does not trust the test CA (test/fixtures/tls) and takes no CA file; the TLS
      // itself is tested elsewhere (tls-*.test.ts): here only the page matters.
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 720 },
    });
    page = await context.newPage();
    await mkdir(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser.close();
    await keepd.stop();
  });

  it('serves the page, its script and style with a strict CSP and an ETag; no login, no page', async () => {
    const index = await request(`${base()}/`, asAdmin);
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.equal(index.headers['content-security-policy'], CSP);
    assert.ok(!/<script>|style=|https?:\/\//.test(index.body.replace('http-equiv', '')), 'no inline script or style, nothing remote');
    for (const [file, type] of [['/console/app.js', /^text\/javascript/], ['/console/app.css', /^text\/css/]] as const) {
      const asset = await request(`${base()}${file}`, asAdmin);
      assert.equal(asset.status, 200);
      assert.match(String(asset.headers['content-type']), type);
      const etag = String(asset.headers.etag);
      assert.match(etag, /^"[\w-]+"$/);
      const again = await request(`${base()}${file}`, { ...asAdmin, headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
    }
    // A request without the management login: 401 with the realm's challenge (the browser's prompt).
    const anonymous = await request(`${base()}/`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="managementAPI"/);
    assert.ok(!anonymous.body.includes('app.js'));
  });

  it('logs in and salts a password that `keepd verify` accepts; Desalinate checks it', async () => {
    const errors: string[] = [];
    page.on('console', (line) => line.type() === 'error' && errors.push(line.text()));
    await page.goto(`${base()}/`);
    await page.locator('#h-salt').waitFor();
    await page.getByLabel('Password', { exact: true }).fill('a-new-password-9');
    await page.getByRole('button', { name: 'Salt', exact: true }).click();
    const secret = page.locator('#salt-secret');
    // (Not page.waitForFunction with a string: the console's CSP forbids eval, rightly.)
    await page.getByText('Salted: use this secret').waitFor();
    const salted = await secret.inputValue();
    assert.match(salted, /^[0-9A-F]{64}:[0-9A-F]{128}$/i);
    const verified = await runCli(['verify', salted], { input: 'a-new-password-9\n' });
    assert.equal(verified.code, 0, verified.stderr);
    await page.getByLabel('Salted secret (HASH:SALT)').fill(salted);
    await page.getByLabel('Password to check').fill('a-new-password-9');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByText('Match: the password opens this secret.').waitFor();
    await page.getByLabel('Password to check').fill('wrong');
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByText('No match.').waitFor();
    // The shutdown dialog asks for the key (one is configured); cancelled, keepd keeps running.
    await page.getByRole('button', { name: 'Shut down…' }).click();
    await page.getByLabel('Shutdown key').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Reload configuration' }).click();
    await page.getByText(/^Unchanged: nothing differs/).waitFor();
    assert.deepEqual(errors, [], 'no CSP violation or script error');
  });

  it('works by keyboard alone: arrow keys move between tabs, Tab reaches the labelled fields, Enter submits', async () => {
    await page.goto(`${base()}/#home`);
    await page.locator('#h-salt').waitFor();
    await page.focus('#tab-home');
    await page.keyboard.press('ArrowRight');
    await page.locator('#tab-status[aria-selected="true"]').waitFor();
    await page.locator(LOADED.status).first().waitFor();
    await page.keyboard.press('End');
    await page.locator('#tab-support[aria-selected="true"]').waitFor();
    await page.keyboard.press('Home');
    await page.locator('#tab-home[aria-selected="true"]').waitFor();
    // From the tab list, Tab goes into the panel: the first field is the labelled password.
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').getAttribute('id'), await page.getByLabel('Password', { exact: true }).getAttribute('id'));
    await page.keyboard.type('typed-by-keyboard-1');
    await page.keyboard.press('Enter');
    await page.getByText('Salted: use this secret').waitFor();
  });

  it('shows the product behind the data listener on Status: unreachable, and why', async () => {
    await page.goto(`${base()}/#status`);
    await page.getByText(/unreachable: the product at http:\/\/127\.0\.0\.1:\d+ refused the connection/).waitFor();
  });

  it('shows the ACME certificate on Status: none yet, and why the attempt failed', async () => {
    await page.goto(`${base()}/#status`);
    await page.locator('#acme').getByText(/console\.keepd\.test from https:\/\/127\.0\.0\.1:\d+\/dir \(tls-alpn-01\): no certificate yet/).waitFor();
    await page.locator('#acme [role=alert]').getByText(/1 failed attempt\(s\); the last at .*: cannot obtain a certificate for console\.keepd\.test .*cannot reach it \(ECONNREFUSED\)/).waitFor();
  });

  it('shows a configuration edit on Status without reloading the page, and a refused one with its problems', async () => {
    await tab('status');
    assert.equal(await page.locator('#generation').textContent(), '1');
    await page.locator('#live', { hasText: 'Live' }).waitFor();
    await put('extra.json', { dance: 'salsa' });
    await page.locator('#generation', { hasText: '2' }).waitFor();
    await put('zz-refused.json', { MANAGMENTPORT: 'not a port' });
    await page.locator('#stale li').first().waitFor({ timeout: 10_000 }).catch(async (error: unknown) => {
      const info = await request(`${base()}/info`, asAdmin);
      throw new Error(`${String(error)}\npage: ${await page.locator('#status-body').innerText()}\n/info: ${info.body}`);
    });
    assert.match((await page.locator('#stale').textContent()) ?? '', /MANAGMENTPORT/);
    await rm(path.join(dir, 'zz-refused.json'));
    await page.locator('#stale').waitFor({ state: 'detached' });
    assert.equal(await page.locator('#generation').textContent(), '2');
    await page.screenshot({ path: path.join(SHOTS, 'status-1280.png') });
  });

  it('lists a throttled client and releases it; it logs in again', async () => {
    const health = `https://127.0.0.1:${keepd.ports.health ?? 0}/health/live`; // (GET /health is 503 here: the product is down)
    // From a loopback address of its own, so that the browser (127.0.0.1) is not the one blocked.
    const from = { localAddress: '127.0.0.2' };
    for (let i = 0; i < 2; i++) assert.equal((await request(health, { ...from, auth: ['probe', 'wrong'] })).status, 401);
    assert.equal((await request(health, { ...from, auth: [...USERS.health] as [string, string] })).status, 429);
    await tab('throttled');
    const release = page.getByRole('button', { name: 'Release 127.0.0.2 on health' });
    await release.waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'throttled-1280.png') });
    await release.click();
    await page.getByText('Released 127.0.0.2 on the health listener.').waitFor();
    await release.waitFor({ state: 'detached' });
    assert.equal((await request(health, { ...from, auth: [...USERS.health] as [string, string] })).status, 200);
  });

  it('follows a new log line on Logs', async () => {
    await tab('logs');
    await page.locator('#log-state', { hasText: 'Following' }).waitFor();
    const marker = `console-log-${Date.now()}`;
    await put('extra.json', { dance: marker });
    await page.locator('#log-lines li', { hasText: 'configuration generation 3 applied' }).first().waitFor();
  });

  it('downloads a support package that holds no secret of the configuration', async () => {
    await tab('support');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#support-download')]);
    assert.match(download.suggestedFilename(), /\.tar\.gz$/);
    const file = await download.path();
    const tar = gunzipSync(await readFile(file)).toString('latin1');
    assert.ok(tar.includes('config.json') && tar.includes('info.json'));
    const secrets = ['changeit', SHUTDOWN_KEY, USERS.management[1], ...JSON.stringify(users).match(/[0-9A-F]{64}:[0-9A-F]{128}/g) ?? []];
    const config = await readFile(path.join(dir, 'product.json'), 'utf8');
    secrets.push(...(config.match(/[0-9A-F]{64}:[0-9A-F]{128}/gi) ?? []));
    for (const secret of secrets) assert.ok(!tar.includes(secret), `the support package holds ${secret.slice(0, 10)}…`);
  });

  it('takes a screenshot of each page at 1280 and 390 px wide', async () => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 720 });
      for (const id of TABS) {
        await tab(id);
        await page.screenshot({ path: path.join(SHOTS, `${id}-${width}.png`) });
      }
    }
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('tells the user to reload the page once the management credentials changed', async () => {
    await tab('status');
    await page.locator('#live', { hasText: 'Live' }).waitFor();
    const changed = structuredClone(users) as { identity: { managementAPI: Record<string, { secret: string }> } };
    const admin = changed.identity.managementAPI[USERS.management[0]];
    assert.ok(admin);
    admin.secret = await createSecret('a-changed-password');
    await put('functionalUsers.json', changed);
    // The reload's state event makes the page fetch /info, which the old login no longer opens.
    await page.getByText('Reload the page to log in again.', { exact: false }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'unauthorized-1280.png') });
    await rm(path.join(dir, 'extra.json'));
  });
});
