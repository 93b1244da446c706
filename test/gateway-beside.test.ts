import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { startProductStandIn } from './helpers/product-stand-in.js';
import { runCli } from './helpers/run-cli.js';
import { tempDir } from './helpers/temp-dir.js';

/*
 * keepd and the product reading one keepconfig.d (docs/gateway.md#beside-the-product): the
 * product's own files, as its docs tell admins to write them, and keepd's extension keys in a file
 * of their own. The ports differ by environment: the product runs with PORT=18880 and friends, keepd
 * with the files' values (here 0: free ports).
 */
const KEEPD_ENV = { HOST: '127.0.0.1', PORT: '0', HEALTHCHECKPORT: '0', MANAGMENTPORT: '0', METRICSPORT: '0' };

async function sharedConfigDir(upstream: string): Promise<string> {
  return tempDir({
    // The product's how-tos: httpIdleTimeout alone in its file, the body limit with its uploads directory.
    'timeout.json': { httpIdleTimeout: 300 },
    'changefilesize.json': { bodyHandler: { uploadsDirectory: 'keep-file-uploads.d', bodyLimit: 128000000 } },
    // Product keys keepd does not use: kept, never in the way.
    'product.json': { versions: { v1: { path: '/api/v1', active: true } }, oauth: { active: false }, CORS: { '^https?:\\/\\/localhost(:\\d+)?$': true } },
    // keepd's own keys, which the product ignores.
    'keepd.json': { listeners: { data: { upstream: { url: upstream } } }, loginRateLimit: { maxFailures: 4 } },
  });
}

describe('beside the product: one keepconfig.d for both', () => {
  it('the first run writes TLS only into keepd’s listener blocks and no accounts, then keepd serves the product over TLS', async () => {
    const product = await startProductStandIn();
    const dir = await sharedConfigDir(product.url);
    const keepd = await startKeepd(dir, { env: KEEPD_ENV });
    try {
      await keepd.waitForStdout(/first run beside the product/);
      const written = JSON.parse(readFileSync(path.join(dir, '00-keepd-first-run.json'), 'utf8')) as Record<string, unknown>;
      for (const key of ['TLSFile', 'TLSType', 'PEMCert', 'TLSPassword', 'identity']) assert.equal(written[key], undefined, `${key}: the product would read it`);
      const blocks = written.listeners as Record<string, { TLSType?: string }>;
      assert.deepEqual(Object.keys(blocks).sort(), ['data', 'health', 'management', 'metrics']);
      assert.ok(Object.values(blocks).every((block) => block.TLSType === 'pem'));
      assert.equal(keepd.schemes.data, 'https');
      const ca = readFileSync(path.join(dir, 'keepd-first-run.cert.pem'));
      const hello = await request(`https://127.0.0.1:${keepd.ports.data ?? 0}/hello`, { ca });
      assert.deepEqual([hello.status, hello.body], [200, 'hello world\n']);
      // The product's keys apply to keepd's data port as they do to the product's.
      const config = await request(`https://127.0.0.1:${keepd.ports.data ?? 0}/upload`, { ca, method: 'PUT', body: 'x'.repeat(20_000_000), headers: { 'content-length': '20000000' } });
      assert.equal(config.status, 200, 'bodyHandler.bodyLimit 128000000 lets 20 MB through');
      assert.ok(keepd.logs.every((line) => !/nobody can log in to the data listener/.test(line.msg)), 'passthrough needs no data account');
    } finally {
      await keepd.stop();
      await product.close();
    }
  });

  it('keepd check on the shared folder: the product’s keys are accepted, keepd’s own are shown with their sources', async () => {
    const dir = await sharedConfigDir('http://127.0.0.1:18880');
    const result = await runCli(['check', '--config-dir', dir, '--sources'], { env: KEEPD_ENV });
    assert.equal(result.code, 0, result.stderr);
    const sources = JSON.parse(result.stdout) as Record<string, { value: unknown; source: string }>;
    assert.deepEqual(sources.httpIdleTimeout, { value: 300, source: 'timeout.json' });
    assert.deepEqual(sources['bodyHandler.bodyLimit'], { value: 128000000, source: 'changefilesize.json' });
    assert.deepEqual(sources['listeners.data.upstream.url'], { value: 'http://127.0.0.1:18880', source: 'keepd.json' });
    assert.deepEqual(sources['listeners.data.upstream.auth'], { value: 'passthrough', source: 'default' }, 'a setting, not a secret: shown');
    assert.equal(sources['bodyHandler.uploadsDirectory']?.value, 'keep-file-uploads.d', 'a product key keepd does not use is kept');
  });
});
