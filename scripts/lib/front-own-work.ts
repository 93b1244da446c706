/**
 * The front listener's own work on a routed request, in-process: keepd's front door
 * (src/listeners/front.ts, as listeners/index.ts builds it) with the how-to's routes, handing a
 * `/health` request to a listener entry that does nothing; CPU time per call. This is all a
 * request on the front port does that the same request on the health port does not (past it,
 * both take the health listener's entry), so it bounds the routing cost from below the noise of
 * throughput runs.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveFrontRoutes } from '../../src/config/front-routes.js';
import type { KeepConfig } from '../../src/config/schema.js';
import { listenerEntry, type ListenerEntry } from '../../src/listeners/front-door.js';
import { frontListener } from '../../src/listeners/front.js';
import { median } from './measure-tools.js';

export interface OwnWork {
  /** CPU µs per request, median of the rounds. */
  microseconds: number;
  rounds: number[];
}

export function frontOwnWork(routes: { path?: string; host?: string; to: string }[], port: number): OwnWork {
  const resolved = resolveFrontRoutes({ listeners: { front: { routes } } } as unknown as KeepConfig);
  let reached = 0;
  const health: ListenerEntry = { request: () => {
      reached++;
    }, checkContinue: () => undefined, upgrade: () => undefined, requestTimeoutMs: () => 30_000 };
  const parts = frontListener({
    routes: () => resolved,
    listener: (name) => (name === 'health' ? health : undefined),
    upstream: () => undefined,
    record: () => undefined,
  });
  if (!parts.front) throw new Error('the front listener has no front door');
  // What the front port's server calls: its own entry (front door first), as listener-server.ts builds it.
  const entry = listenerEntry(parts.front, () => undefined, () => false, () => 0);
  // Requests as node's HTTP/1.1 parser hands over a GET: fresh, flat strings (one string used again
  // and again would let V8 reuse work; a pool larger than any cache, cycled), not yet complete (node
  // sets req.complete after the 'request' event), ending and closing after each call as they do; the
  // health listener's deadline (limits.requestTimeoutMs) is the default 30 s: whatever the front
  // does to keep it for a routed request is counted.
  const fresh = (text: string): string => Buffer.from(text, 'latin1').toString('latin1');
  const requests = Array.from({ length: 4096 }, () =>
    Object.assign(new EventEmitter(), { url: fresh('/health'), method: 'GET', headers: { host: fresh(`127.0.0.1:${port}`), authorization: fresh('Basic x') }, complete: false, socket: { encrypted: true } }),
  );
  const res = new EventEmitter();
  const calls = 200_000;
  const rounds: number[] = [];
  for (let round = 0; round < 11; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const req = requests[i % requests.length] as EventEmitter;
      entry.request(req as unknown as IncomingMessage, res as unknown as ServerResponse);
      req.emit('end');
      res.emit('close');
    }
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / calls);
  }
  if (reached !== calls * 11) throw new Error(`the front routed ${reached} of ${calls * 11} requests to the health listener`);
  return { microseconds: median(rounds), rounds };
}
