import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { request, type Response } from './helpers/http-client.js';
import { failedStart, startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}

async function daemonDir(extra: object = {}): Promise<string> {
  return tempDir({ 'functionalUsers.json': await functionalUsers(), 'ports.json': TEST_BASE, 'tls.json': TLS_CONFIGS.pem, 'z.json': extra });
}

/**
 * POST /encode with its body sent in pieces: a request that stays in flight for a while.
 * `inFlight` resolves once keepd has read the request head and is handling it (its 100 Continue).
 */
function slowEncode(port: number, pieces: number, intervalMs: number): { response: Promise<Response>; inFlight: Promise<void> } {
  const body = JSON.stringify({ shutdownkey: 'x'.repeat(pieces * 4) });
  const size = Math.ceil(body.length / pieces);
  const chunks = Array.from({ length: pieces }, (_, i) => body.slice(i * size, (i + 1) * size));
  let accepted: () => void = () => undefined;
  const inFlight = new Promise<void>((resolve) => (accepted = resolve));
  const response = request(`https://127.0.0.1:${port}/encode`, { method: 'POST', auth: [...USERS.management], trickle: { chunks, intervalMs }, onContinue: () => accepted() });
  // Fails the wait at once if the request does, rather than at the test's timeout.
  const answeredFirst = response.then((early) => {
    throw new Error(`answered (${early.status}) before it was seen in flight`);
  });
  return { response, inFlight: Promise.race([inFlight, answeredFirst]) };
}

describe('start and stop', () => {
  it('a port in use stops keepd with one message naming listener and port', async () => {
    const { port, server } = await occupiedPort();
    try {
      const dir = await daemonDir({ HEALTHCHECKPORT: port });
      const run = await failedStart(dir);
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        `keepd: cannot start:\n  - the health listener cannot listen on 127.0.0.1:${port}: the port is already in use (another keepd or Domino REST API?). Stop that process or set HEALTHCHECKPORT to a free port\n`,
      );
    } finally {
      server.close();
    }
  });

  it('an invalid configuration stops keepd with every problem and exit code 2', async () => {
    const dir = await tempDir({ 'a.json': '{"PORT": 1,,}', 'b.json': { METRICSPORT: 'x' } });
    const run = await failedStart(dir);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /has 2 problem\(s\)/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('SIGTERM finishes the request in flight, refuses new connections, exits 0', async () => {
    const keepd = await startKeepd(await daemonDir());
    const port = keepd.ports.management ?? 0;
    const slow = slowEncode(port, 6, 150);
    await slow.inFlight;
    keepd.child.kill('SIGTERM');
    await keepd.waitForLog((line) => line.msg.startsWith('stopping (SIGTERM)'));
    await assert.rejects(request(`https://127.0.0.1:${port}/info`, { auth: [...USERS.management] }), /ECONNREFUSED|ECONNRESET|socket hang up|socket disconnected before secure TLS connection/);
    const response = await slow.response;
    assert.equal(response.status, 200, response.body);
    assert.match((response.json() as { secret: string }).secret, /^[0-9A-F]{64}:/);
    assert.equal(await keepd.exited, 0);
  });

  it('a second signal exits at once, without waiting for the drain', async () => {
    const keepd = await startKeepd(await daemonDir({ drainTimeoutSeconds: 60 }));
    const slow = slowEncode(keepd.ports.management ?? 0, 50, 200);
    const outcome = slow.response.catch((error: unknown) => error);
    await slow.inFlight;
    keepd.child.kill('SIGTERM');
    await keepd.waitForLog((line) => line.msg.startsWith('stopping (SIGTERM)'));
    keepd.child.kill('SIGINT');
    assert.equal(await keepd.exited, 130);
    assert.ok(keepd.logs.some((line) => line.msg.startsWith('SIGINT again: exiting now')));
    assert.ok((await outcome) instanceof Error);
  });

  it('the drain is bounded by drainTimeoutSeconds', async () => {
    const keepd = await startKeepd(await daemonDir({ drainTimeoutSeconds: 0.5 }));
    const slow = slowEncode(keepd.ports.management ?? 0, 50, 200);
    const outcome = slow.response.catch((error: unknown) => error);
    await slow.inFlight;
    keepd.child.kill('SIGTERM');
    assert.equal(await keepd.exited, 0);
    assert.ok((await outcome) instanceof Error, 'the unfinished request was cut');
    assert.ok(keepd.logs.some((line) => line.msg.startsWith('drain time over; cut the remaining connections of management')));
  });
});
