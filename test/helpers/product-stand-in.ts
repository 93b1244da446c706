/**
 * A stand-in for the HCL Domino REST API data port: a real HTTP(S) server with the product's auth
 * routes (JWT, lockout), its event-bus WebSocket, and routes for proxy tests (streaming, aborts,
 * redirects, hop-by-hop headers). Also runnable on its own as the benchmark's upstream:
 *   node dist/test/helpers/product-stand-in.js --port 8880 --host 127.0.0.1
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from 'ws';
import { handleRequest, handleUpgrade, StandInState } from './product-stand-in-routes.js';

export { expectedDownloadSha256 } from './product-stand-in-routes.js';

export interface StandInOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Accounts and passwords; default alice/alice-pw and bob/bob-pw. */
  users?: Record<string, string>;
}

export interface ProductStandIn {
  /** e.g. http://127.0.0.1:41234 (https when tls). */
  readonly url: string;
  readonly port: number;
  /** Requests received so far, most recent last (the last 200). */
  readonly seen: ReadonlyArray<{ method: string; url: string; headers: IncomingHttpHeaders; rawHeaders: string[] }>;
  /** POST /api/v1/auth attempts received (to assert that keepd blocked some before they arrived). */
  readonly authAttempts: number;
  /** Requests whose client went away before the response finished, per pathname. */
  readonly aborted: ReadonlyMap<string, number>;
  /** Stops listening and destroys every open socket (the product going down). */
  stop(): Promise<void>;
  /** Listens again on the same port (the product coming back). */
  restart(): Promise<void>;
  /**
   * Resolves once a request to `pathname` has been aborted by its client. Each call consumes one
   * abort, so one that happened before the call is not missed, nor counted twice.
   */
  waitForAbort(pathname: string): Promise<void>;
  /** Resolves once a request to `pathname` has arrived (same consuming rule as waitForAbort). */
  waitForRequest(pathname: string): Promise<void>;
  /** Same as stop, final. */
  close(): Promise<void>;
}

const DEFAULT_USERS = { alice: 'alice-pw', bob: 'bob-pw' };

export async function startProductStandIn(options: StandInOptions = {}): Promise<ProductStandIn> {
  const host = options.host ?? '127.0.0.1';
  const state = new StandInState(options.users ?? DEFAULT_USERS);
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => handleRequest(state, req, res))
    : createHttpServer((req, res) => handleRequest(state, req, res));
  // Longer than a proxy's pool idle timeout, so the proxy, not the product, closes idle connections.
  server.keepAliveTimeout = 65_000;

  // Every socket, upgraded ones included (for https those are TLS sockets, not the TCP ones).
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  server.on('upgrade', (req, socket, head: Buffer) => {
    track(socket);
    handleUpgrade(state, wss, req, socket, head);
  });

  let port = options.port ?? 0;
  let closed = false;

  const listen = async (): Promise<void> => {
    const deadline = Date.now() + 1000;
    for (;;) {
      try {
        server.listen(port, host);
        await once(server, 'listening');
        break;
      } catch (error) {
        // The old socket may linger a moment after stop(); anything else is a real failure.
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0 || Date.now() > deadline) throw error;
        await delay(20);
      }
    }
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('stand-in has no address');
    port = address.port;
    state.stopping = false;
  };

  const stop = async (): Promise<void> => {
    if (!server.listening) return;
    state.stopping = true;
    const done = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    for (const socket of sockets) socket.destroy();
    for (const client of wss.clients) client.terminate();
    await done;
  };

  await listen();
  const scheme = options.tls ? 'https' : 'http';
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    get url() {
      return `${scheme}://${urlHost}:${port}`;
    },
    get port() {
      return port;
    },
    get seen() {
      return state.seen;
    },
    get authAttempts() {
      return state.authAttempts;
    },
    get aborted() {
      return state.aborted;
    },
    stop,
    restart: async () => {
      if (closed) throw new Error('the stand-in was closed');
      if (!server.listening) await listen();
    },
    waitForAbort: (pathname) => state.waitFor('abort', pathname),
    waitForRequest: (pathname) => state.waitFor('request', pathname),
    close: async () => {
      closed = true;
      await stop();
      wss.close();
    },
  };
}

/** `--port N --host H` from the command line. */
function parseArgs(argv: string[]): StandInOptions {
  const options: StandInOptions = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag ?? ''} needs a value`);
    if (flag === '--port' && /^\d+$/.test(value)) options.port = Number(value);
    else if (flag === '--host') options.host = value;
    else throw new Error(`unknown option or bad value: ${flag ?? ''} ${value}`);
  }
  return options;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const standIn = await startProductStandIn(parseArgs(process.argv.slice(2)));
  process.stdout.write(`product stand-in listening on ${standIn.url}\n`);
  const shutdown = (): void => {
    standIn.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
