import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { request } from './helpers/http-client.js';
import { startKeepd } from './helpers/keepd-process.js';
import { functionalUsers, TEST_BASE, TLS_CONFIGS, USERS } from './helpers/test-config.js';
import { tempDir } from './helpers/temp-dir.js';

/** An idle TCP connection (no TLS handshake, no request): resolves once connected; `closed` when the server closes it. */
function idleConnection(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve({ socket, closed }));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
  });
}

describe('connections per client address', () => {
  it('one address holding idle connections cannot lock out the others', async () => {
    const dir = await tempDir({
      'functionalUsers.json': await functionalUsers(),
      'ports.json': TEST_BASE,
      'tls.json': TLS_CONFIGS.pem,
      'limits.json': { listeners: { health: { limits: { maxConnections: 32, maxConnectionsPerClient: 8 } } } },
    });
    const keepd = await startKeepd(dir);
    const port = keepd.ports.health ?? 0;
    const held: Socket[] = [];
    try {
      const attempts = await Promise.all(Array.from({ length: 40 }, () => idleConnection(port)));
      held.push(...attempts.map((a) => a.socket));
      // Those beyond the client's share are closed on accept; 8 stay open (until the handshake timeout).
      let closed = 0;
      for (const attempt of attempts) void attempt.closed.then(() => closed++);
      await eventually(() => Promise.resolve(assert.equal(closed, 32, `closed so far: ${closed}`)));
      assert.equal(attempts.filter((a) => !a.socket.destroyed).length, 8);
      // Another address (all of 127.0.0.0/8 is this machine) still gets in.
      const other = await request(`https://127.0.0.1:${port}/health`, { auth: [...USERS.health], localAddress: '127.0.0.2' });
      assert.equal(other.status, 200);
      const metrics = await request(`https://127.0.0.1:${keepd.ports.metrics ?? 0}/metrics`, { auth: [...USERS.metrics] });
      assert.match(metrics.body, /^keepd_connections_refused_total\{listener="health",reason="per_client"\} 32$/m);
    } finally {
      for (const socket of held) socket.destroy();
      await keepd.stop();
    }
  });
});
