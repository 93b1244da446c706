import type { Server as HttpServer } from 'node:http';
import type { SecureContext, TLSSocket } from 'node:tls';
import { fastify, LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ListenerName } from '../config/listener-table.js';
import type { ListenerLimits, ListenerSettings } from '../config/listener-settings.js';
import { clientAddress, type TrustTest } from '../config/trusted-proxies.js';
import { VerificationOverloaded } from '../accounts/verification-limiter.js';
import type { RequestMetrics } from '../metrics/request-metrics.js';
import { errorCode } from '../support/errors.js';
import { bindAddresses, explainListenError, ListenError } from './bind-address.js';
import { logs, maskQuery } from '../support/logger.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import { errorBody, HSTS } from '../support/http-answers.js';
import type { RequestHandler } from '../support/node-http.js';
import { secureServerOptions, securityHeaders } from './server-options.js';
import type { PreparedListener, SniMaterial } from './prepared-listener.js';
import { SniContexts } from './sni-contexts.js';
import { listenerEntry, type FrontDoor, type ListenerEntry } from './front-door.js';
import { NodeServer } from './node-server.js';

export interface RouteEntry {
  method: string;
  url: string;
}

/**
 * A listener's own part (one file per listener): it installs authentication first
 * (requireAccount, with `headers`), then its routes.
 */
export type RouteRegistrar = (app: FastifyInstance, setup: { headers: Readonly<Record<string, string>> }) => void;


/** What a listener's file provides: its routes, and optionally a front door before them. */
export interface ListenerParts {
  routes: RouteRegistrar;
  front?: FrontDoor;
}

export interface ListenerServerOptions {
  prepared: PreparedListener;
  policy: TlsPolicy;
  logger: Logger;
  requests: RequestMetrics;
  /** A connection closed on accept, and why (`per_client`: its address has limits.maxConnectionsPerClient open). */
  refused: (listener: ListenerName, reason: 'per_client') => void;
  routes: RouteRegistrar;
  front?: FrontDoor | undefined;
  /** trustedProxies in use: whose X-Forwarded-For names the client (logs), and who has no per-client connection limit. */
  trust: () => TrustTest;
  /** The pending tls-alpn-01 challenge certificate for a name (ACME listeners). */
  acmeChallenge: (servername: string) => SecureContext | undefined;
}

/** One listener: its own Fastify instance, server, TLS context, limits and Basic-auth realm. */
export class ListenerServer {
  readonly name: ListenerName;
  #settings: ListenerSettings;
  #policy: TlsPolicy;
  readonly scheme: 'http' | 'https';
  readonly routes: RouteEntry[] = [];
  #tls: TlsMaterial | undefined;
  /** More certificates, by the name a client asks for (SNI). */
  readonly #sni = new SniContexts();
  #address = '';
  #port = 0;
  readonly #app: FastifyInstance;
  readonly #node: NodeServer;
  /** Where requests come in: the server's events, and the front listener's routes to this one. */
  #entry: ListenerEntry | undefined;
  readonly #log: Logger;
  #closing = false;

  private constructor(options: ListenerServerOptions) {
    const { prepared, policy, logger } = options;
    this.name = prepared.settings.name;
    this.#settings = prepared.settings;
    this.#policy = policy;
    this.#tls = prepared.tls;
    // An ACME listener serves TLS from the start, before its certificate arrives (updateTls).
    this.scheme = prepared.tls || prepared.settings.acme ? 'https' : 'http';
    const { tls } = prepared;
    const { limits } = prepared.settings;
    let node: NodeServer | undefined;
    this.#log = logger.child({ listener: this.name });
    this.#app = fastify<HttpServer>({
      loggerInstance: this.#log,
      // Per-request lines would flood the log; requests are counted and timed in the metrics.
      logController: new LogController({ disableRequestLogging: true }),
      // A child logger per request (for its reqId) costs more than the rest of a cached-credential
      // request; it is only worth it when request lines are logged at all (debug, trace). The client
      // is read now: an HTTP/2 request's socket is gone by the time its answer has left.
      childLoggerFactory: (logger, bindings, childOptions, raw) =>
        logs(logger, 'debug') ? logger.child({ ...bindings, remoteAddress: clientAddress(raw.socket.remoteAddress ?? '', raw.headers['x-forwarded-for'], options.trust()) }, childOptions) : logger,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      bodyLimit: limits.maxBodyBytes,
      serverFactory: (handler) => {
        const { front } = options;
        // While closing, Fastify answers (503 on kept-alive connections), never the front door.
        // Fastify takes HTTP/2 requests too (it checks each request's httpVersionMajor); its types
        // tie one request type to the server's, and this server serves both.
        const entry = listenerEntry(front, handler as RequestHandler, () => this.#closing, () => this.#settings.limits.requestTimeoutMs);
        this.#entry = entry;
        node = new NodeServer({
          tls: this.scheme === 'https' ? { options: secureServerOptions(tls, policy), sni: (name) => this.#sni.contextFor(name), acme: prepared.settings.acme ? options.acmeChallenge : undefined } : undefined,
          http2: prepared.settings.http2,
          limits: () => this.#settings.limits,
          entry,
          frontDoor: front !== undefined,
          exempt: (address) => options.trust()(address),
          refused: () => options.refused(this.name, 'per_client'),
        });
        return node.server as HttpServer;
      },
    });
    if (!node) throw new Error('Fastify did not create the server');
    if (tls) this.#sni.set(prepared.sni, policy);
    this.#node = node;
    // JSON only: a body of any other type is refused with 415.
    this.#app.removeContentTypeParser('text/plain');
  }

  /**
   * What every request goes through, in order: the listener's onRequest hook (security headers,
   * trace line, authentication: authentication.ts), its route, then onResponse (request metrics,
   * debug access log). Errors: 4xx as they are, 503 on verification overload, 5xx logged and
   * answered without detail; unknown routes 404 JSON (after authentication: strangers learn nothing).
   */
  #setup(options: ListenerServerOptions): void {
    const { name } = this;
    const headers = securityHeaders(name, this.scheme === 'https');
    this.#app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) this.routes.push({ method, url: route.url });
    });
    this.#app.addHook('onResponse', (request, reply, done) => {
      options.requests.record(name, request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      if (logs(request.log, 'debug')) {
        request.log.debug({ method: request.method, path: request.url.split('?')[0], http: request.raw.httpVersion, status: reply.statusCode, account: request.account?.name, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
      }
      done();
    });
    this.#app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.headers(headers); // an error before the onRequest hook ran
      if (error instanceof VerificationOverloaded) {
        return reply.code(503).header('retry-after', '1').send(errorBody(503, 'too many new credentials being verified; retry in a second'));
      }
      const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (statusCode >= 500) {
        request.log.error({ err: error, method: request.method, url: maskQuery(request.url) }, 'request failed');
        return reply.code(statusCode).send(errorBody(statusCode, 'internal error; see the keepd log'));
      }
      return reply.code(statusCode).send(errorBody(statusCode, error.message));
    });
    if (this.scheme === 'http') {
      // A request the front listener routes here over TLS: HSTS as on a TLS listener.
      this.#app.addHook('onRequest', (request, reply, done) => {
        if ((request.raw.socket as Partial<TLSSocket>).encrypted === true) void reply.header('strict-transport-security', HSTS);
        done();
      });
    }
    options.routes(this.#app, { headers });
    this.#app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0] ?? ''} on the ${name} listener`));
    });
  }

  /** The limits a running server can take without a new socket (see planListenerChange). */
  tune(limits: ListenerLimits): void {
    // Kept in the settings too: the next reload compares against what runs.
    this.#settings = { ...this.#settings, limits };
    this.#node.tune(limits);
  }

  /** Builds the listener and binds it; rejects with a ListenError that names listener, address and port. */
  static async start(options: ListenerServerOptions): Promise<ListenerServer> {
    const listener = new ListenerServer(options);
    listener.#setup(options);
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
        const bound = this.#node.server.address();
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

  get settings(): ListenerSettings {
    return this.#settings;
  }

  /** The TLS protocols and ciphers the server was built or last swapped with. */
  get policy(): TlsPolicy {
    return this.#policy;
  }

  get address(): string {
    return this.#address;
  }

  get port(): number {
    return this.#port;
  }

  /** Serves HTTP/2 next to HTTP/1.1 (a TLS listener with `http2`). */
  get http2(): boolean {
    return this.#node.http2;
  }

  get tls(): TlsMaterial | undefined {
    return this.#tls;
  }

  get listening(): boolean {
    return this.#node.server.listening;
  }

  /** Where the front listener hands a request routed to this listener. */
  get entry(): ListenerEntry | undefined {
    return this.#closing ? undefined : this.#entry;
  }

  get sni(): SniMaterial[] {
    return this.#sni.entries;
  }

  /** New handshakes get the new certificate; connections already open keep theirs. */
  updateTls(material: TlsMaterial, policy: TlsPolicy, sni: SniMaterial[] = this.#sni.entries): void {
    const { server } = this.#node;
    if (!('setSecureContext' in server)) throw new Error(`the ${this.name} listener is not a TLS listener`);
    // Keep the session ticket keys (a new context would draw new ones): returning clients go on
    // resuming their sessions across a certificate renewal instead of all paying a full handshake.
    server.setSecureContext({ ...secureServerOptions(material, policy), ticketKeys: server.getTicketKeys() });
    this.#sni.set(sni, policy);
    this.#tls = material;
    this.#policy = policy;
  }

  /**
   * Stops accepting at once and resolves when the port is free (for a rebind on the same port);
   * `drained` resolves as close() does.
   */
  async release(drainMs: number): Promise<{ drained: Promise<{ forced: boolean }> }> {
    const drained = this.close(drainMs);
    for (let waited = 0; this.#node.server.listening && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
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
    this.#closing = true;
    // Connections that fall idle while draining (their request answered) are closed at once,
    // rather than held open for the keep-alive timeout; HTTP/2 sessions get GOAWAY.
    this.#node.closeIdle();
    const sweeper = setInterval(() => this.#node.closeIdle(), 50);
    const closed = this.#app.close().then(() => 'closed' as const);
    const first = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    clearInterval(sweeper);
    if (first === 'closed') return { forced: false };
    this.#node.cut();
    await closed;
    return { forced: true };
  }
}
