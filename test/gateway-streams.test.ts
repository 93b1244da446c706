import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { download, generated, peakRssMiB, startGateway, upload, type Gateway } from './helpers/gateway-setup.js';
import { request, TEST_CA } from './helpers/http-client.js';
import { expectedDownloadSha256 } from './helpers/product-stand-in.js';

const MB50 = 50 * 1024 * 1024;

describe('gateway: bodies streamed both ways', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ extra: { bodyHandler: { bodyLimit: -1 } } });
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('50 MB up and 50 MB down over TLS, byte for byte, in flat memory', async () => {
    const body = generated(MB50);
    const up = await upload(gw.data('/upload'), body.stream, { 'content-length': String(MB50) });
    assert.equal(up.status, 200, up.text);
    assert.deepEqual(JSON.parse(up.text), { bytes: MB50, sha256: body.sha256() });
    const chunked = generated(MB50);
    const upChunked = await upload(gw.data('/upload'), chunked.stream);
    assert.deepEqual(JSON.parse(upChunked.text), { bytes: MB50, sha256: chunked.sha256() });
    const down = await download(gw.data(`/download?bytes=${MB50}`));
    assert.deepEqual(down, { status: 200, bytes: MB50, sha256: expectedDownloadSha256(MB50) });
    const downChunked = await download(gw.data(`/download?bytes=${MB50}&chunked=1`));
    assert.deepEqual(downChunked, { status: 200, bytes: MB50, sha256: expectedDownloadSha256(MB50) });
    // 200 MB went through; keepd's peak resident memory stays far below that (the issue: < 150 MB).
    const peak = await peakRssMiB(gw.keepd.child.pid ?? 0);
    assert.ok(peak < 150, `keepd's peak RSS ${peak.toFixed(0)} MiB`);
  });

  it('Expect: 100-continue: keepd lets the body come once its own checks pass', async () => {
    let continued = false;
    const response = await request(gw.data('/upload'), { method: 'PUT', body: 'x'.repeat(1000), onContinue: () => (continued = true) });
    assert.equal(response.status, 200);
    assert.ok(continued, 'the client got 100 Continue');
    assert.equal((response.json() as { bytes: number }).bytes, 1000);
  });

  it('a slow reader slows the product down instead of filling keepd’s memory', async () => {
    const before = await peakRssMiB(gw.keepd.child.pid ?? 0);
    await new Promise<void>((resolve, reject) => {
      const req = httpsRequest(gw.data(`/download?bytes=${MB50}`), { ca: TEST_CA, agent: false, servername: 'localhost' }, (res) => {
        // Read nothing until the transfer must have stalled on backpressure, then drain it all.
        res.pause();
        setImmediate(() => {
          let bytes = 0;
          res.on('data', (piece: Buffer) => (bytes += piece.length));
          res.on('end', () => (bytes === MB50 ? resolve() : reject(new Error(`${bytes} bytes`))));
          res.resume();
        });
      });
      req.on('error', reject);
      req.end();
    });
    const peak = await peakRssMiB(gw.keepd.child.pid ?? 0);
    assert.ok(peak < Math.max(before, 0) + 60, `peak RSS went from ${before.toFixed(0)} to ${peak.toFixed(0)} MiB`);
  });
});

describe('gateway: body limit (bodyHandler.bodyLimit)', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ extra: { bodyHandler: { bodyLimit: 1000 } } });
  });
  after(async () => {
    await gw.keepd.stop();
    await gw.product.close();
  });

  it('a declared body over the limit: 413 before anything reaches the product, without 100 Continue', async () => {
    const seen = gw.product.seen.length;
    let continued = false;
    const response = await request(gw.data('/upload'), { method: 'PUT', body: 'x'.repeat(1001), headers: { 'content-length': '1001' }, onContinue: () => (continued = true) });
    assert.equal(response.status, 413);
    assert.match((response.json() as { message: string }).message, /bodyHandler\.bodyLimit \(1000 bytes\)/);
    assert.equal(continued, false);
    assert.equal(gw.product.seen.length, seen);
    assert.equal((await request(gw.data('/upload'), { method: 'PUT', body: 'x'.repeat(1000) })).status, 200);
  });

  it('a chunked body that crosses the limit is cut with 413', async () => {
    const body = generated(5000);
    const response = await upload(gw.data('/upload'), body.stream);
    assert.equal(response.status, 413);
  });
});
