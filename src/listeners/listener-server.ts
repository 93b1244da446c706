import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import { fastify, LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { LISTENERS, type ListenerName } from '../config/listener-table.js';
import type { ListenerLimits, ListenerSettings } from '../config/listener-settings.js';
import { errorCode } from '../support/errors.js';
import { logs } from '../support/logger.js';
import type { PreparedListener } from '../runtime/prepare.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import { guardWithBasicAuth } from './basic-auth-guard.js';
import type { ListenerContext, RouteEntry } from './listener-context.js';
import { installNotFound, installRequestPipeline } from './request-pipeline.js';

export type RouteRegistrar = (app: FastifyInstance, ctx: ListenerContext) => void;

export interface ListenerServerOptions {
  prepared: PreparedListener;
  policy: TlsPolicy;
  logger: Logger;
  ctx: ListenerContext;
  routes: RouteRegistrar;
}

/** An expected startup failure (port in use, bad address): one clear sentence, no stack trace. */
export class ListenError extends Error {}

export function secureServerOptions(material: TlsMaterial, policy: TlsPolicy): HttpsOptions {
  return { ...material.options, minVersion: policy.minVersion, maxVersion: policy.maxVersion, ciphers: policy.ciphers, honorCipherOrder: true };
}

/**
 * Explicit addresses only: Fastify's `localhost` starts hidden extra servers that a later
 * setSecureContext would not reach. No HOST means all interfaces ("::" also takes IPv4 on a
 * dual-stack host; "0.0.0.0" where IPv6 is off).
 */
export function bindAddresses(host: string | undefined): string[] {
  if (host === undefined) return ['::', '0.0.0.0'];
  if (host === 'localhost') return ['127.0.0.1'];
  return [host];
}

function explainListenError(error: unknown, settings: ListenerSettings, address: string): string {
  const where = `the ${settings.name} listener cannot listen on ${address.includes(':') ? `[${address}]` : address}:${settings.port}`;
  const portKey = LISTENERS[settings.name].portKey;
  switch (errorCode(error)) {
    case 'EADDRINUSE':
      return `${where}: the port is already in use (another keepd or Domino REST API?). Stop that process or set ${portKey} to a free port`;
    case 'EACCES':
      return `${where}: permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE, so choose a port above 1023 with ${portKey}`;
    case 'EADDRNOTAVAIL':
      return `${where}: this machine has no such address; fix HOST`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: cannot resolve the host name; set HOST to an IP address`;
    default:
      return `${where}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function serverTimeouts(limits: ListenerLimits) {
  // Node refuses headersTimeout > requestTimeout; and it checks both only every
  // connectionsCheckingInterval, so that must be well below them for the limits to bite.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
  };
}

/** One listener: its own Fastify instance, server, TLS context, limits and Basic-auth realm. */
export class ListenerServer {
  readonly name: ListenerName;
  readonly settings: ListenerSettings;
  readonly scheme: 'http' | 'https';
  readonly routes: RouteEntry[] = [];
  #tls: TlsMaterial | undefined;
  #address = '';
  #port = 0;
  readonly #app: FastifyInstance;
  readonly #server: HttpServer | HttpsServer;
  readonly #log: Logger;

  private constructor(options: ListenerServerOptions) {
    const { prepared, policy, logger } = options;
    this.name = prepared.settings.name;
    this.settings = prepared.settings;
    this.#tls = prepared.tls;
    this.scheme = prepared.tls ? 'https' : 'http';
    const { tls } = prepared;
    const { limits } = prepared.settings;
    let server: HttpServer | HttpsServer | undefined;
    this.#log = logger.child({ listener: this.name });
    this.#app = fastify<HttpServer>({
      loggerInstance: this.#log,
      // Per-request lines would flood the log; requests are counted and timed in the metrics.
      logController: new LogController({ disableRequestLogging: true }),
      // A child logger per request (for its reqId) costs more than the rest of a cached-credential
      // request; it is only worth it when request lines are logged at all (debug, trace).
      childLoggerFactory: (logger, bindings, options) => (logs(logger, 'debug') ? logger.child(bindings, options) : logger),
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      bodyLimit: limits.maxBodyBytes,
      serverFactory: (handler) => {
        const timeouts = serverTimeouts(limits);
        server = tls
          ? createHttpsServer({ ...secureServerOptions(tls, policy), ...timeouts, handshakeTimeout: limits.handshakeTimeoutMs }, handler)
          : createHttpServer(timeouts, handler);
        server.maxConnections = limits.maxConnections;
        return server;
      },
    });
    if (!server) throw new Error('Fastify did not create the server');
    this.#server = server;
    // JSON only: a body of any other type is refused with 415.
    this.#app.removeContentTypeParser('text/plain');
  }

  /** Order matters: the pipeline and guard before the routes and the 404 handler. */
  async #setup(ctx: ListenerContext, routes: RouteRegistrar): Promise<void> {
    const admission = installRequestPipeline(this.#app, ctx, { listener: this.name, realm: this.settings.realm, tls: this.#tls !== undefined });
    this.#app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) this.routes.push({ method, url: route.url });
    });
    await guardWithBasicAuth(this.#app, this.name, this.settings.realm, ctx, admission);
    routes(this.#app, ctx);
    installNotFound(this.#app, this.name);
  }

  /** The limits a running server can take without a new socket (see planListenerChange). */
  tune(limits: ListenerLimits): void {
    const timeouts = serverTimeouts(limits);
    this.#server.headersTimeout = timeouts.headersTimeout;
    this.#server.requestTimeout = timeouts.requestTimeout;
    this.#server.keepAliveTimeout = timeouts.keepAliveTimeout;
    this.#server.maxConnections = limits.maxConnections;
  }

  /** Builds the listener and binds it; rejects with a ListenError that names listener, address and port. */
  static async start(options: ListenerServerOptions): Promise<ListenerServer> {
    const listener = new ListenerServer(options);
    await listener.#setup(options.ctx, options.routes);
    await listener.#listen();
    return listener;
  }

  async #listen(): Promise<void> {
    await this.#app.ready();
    const candidates = bindAddresses(this.settings.host);
    for (const [index, address] of candidates.entries()) {
      // Fastify logs its own unstructured "listening" lines; the daemon logs one structured line instead.
      const level = this.#log.level;
      this.#log.level = 'warn';
      try {
        await this.#app.listen({ port: this.settings.port, host: address });
        const bound = this.#server.address();
        if (bound === null || typeof bound === 'string') throw new Error('not bound to an IP socket');
        this.#address = bound.address;
        this.#port = bound.port;
        return;
      } catch (error) {
        const retry = index < candidates.length - 1 && ['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(errorCode(error));
        if (!retry) {
          await this.#app.close().catch(() => undefined);
          throw new ListenError(explainListenError(error, this.settings, address));
        }
      } finally {
        this.#log.level = level;
      }
    }
  }

  setLogLevel(level: string): void {
    this.#log.level = level;
  }

  get address(): string {
    return this.#address;
  }

  get port(): number {
    return this.#port;
  }

  get tls(): TlsMaterial | undefined {
    return this.#tls;
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /** New handshakes get the new certificate; connections already open keep theirs. */
  updateTls(material: TlsMaterial, policy: TlsPolicy): void {
    if (!('setSecureContext' in this.#server)) throw new Error(`the ${this.name} listener is not a TLS listener`);
    // Keep the session ticket keys (a new context would draw new ones): returning clients go on
    // resuming their sessions across a certificate renewal instead of all paying a full handshake.
    this.#server.setSecureContext({ ...secureServerOptions(material, policy), ticketKeys: this.#server.getTicketKeys() });
    this.#tls = material;
  }

  /**
   * Stops accepting at once and resolves when the port is free (for a rebind on the same port);
   * `drained` resolves as close() does.
   */
  async release(drainMs: number): Promise<{ drained: Promise<{ forced: boolean }> }> {
    const drained = this.close(drainMs);
    for (let waited = 0; this.#server.listening && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    return { drained };
  }

  /**
   * Stops accepting, lets in-flight requests finish (new requests on kept-alive connections get
   * 503), and after `drainMs` cuts whatever is left. Resolves with whether it had to cut.
   */
  async close(drainMs: number): Promise<{ forced: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), drainMs);
      timer.unref();
    });
    // Connections that fall idle while draining (their request answered) are closed at once,
    // rather than held open for the keep-alive timeout.
    const sweeper = setInterval(() => this.#server.closeIdleConnections(), 50);
    const closed = this.#app.close().then(() => 'closed' as const);
    const first = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    clearInterval(sweeper);
    if (first === 'closed') return { forced: false };
    this.#server.closeAllConnections();
    await closed;
    return { forced: true };
  }
}
