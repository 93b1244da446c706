import { after } from 'node:test';
import { RedisServer } from '../../scripts/lib/redis-server.js';

export { RedisServer };

const started: RedisServer[] = [];
// Never leave a redis-server behind, whatever a test did.
after(async () => {
  await Promise.all(started.map((server) => server.stop()));
});

/** A redis-server of this test file's own (stopped when the file is done). */
export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const server = await RedisServer.start(options);
  started.push(server);
  return server;
}
