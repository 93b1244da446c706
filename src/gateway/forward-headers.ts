/*
 * The headers that cross the gateway, as pure functions over flat [name, value, ...] arrays (the
 * form node's rawHeaders, undici's dispatch and res.writeHead all take, so nothing is re-parsed).
 */

/** RFC 9110 7.6.1 hop-by-hop headers, plus the proxy ones: meant for one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Set by keepd alone: from a client they would be a forgery. */
const IDENTITY_HEADERS = { name: 'x-forwarded-user', cn: 'x-forwarded-user-cn' } as const;

/** What a proxy in front of keepd may say about its client; believed from trusted proxies only. */
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'forwarded']);

/** Dropped from every request: keepd answers 100-continue itself, and sets identity and forwarding headers. */
const ALWAYS_DROPPED = new Set([...HOP_BY_HOP, 'expect', IDENTITY_HEADERS.name, IDENTITY_HEADERS.cn]);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Percent-encoded UTF-8; a lone surrogate (which UTF-8 cannot hold, and encodeURIComponent throws on) becomes U+FFFD. */
export function percentEncoded(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, '\uFFFD'));
}

/** Adds the header names a `Connection` value lists (hop-by-hop for this message too). */
function addTokens(value: string, into: Set<string> | undefined): Set<string> | undefined {
  let tokens = into;
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') (tokens ??= new Set()).add(name);
  }
  return tokens;
}

/** Removes the pairs whose names `Connection` listed (rare: most messages list none). */
function withoutListed(pairs: string[], listed: Set<string> | undefined): string[] {
  if (listed === undefined) return pairs;
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) if (!listed.has((pairs[i] ?? '').toLowerCase())) out.push(pairs[i] ?? '', pairs[i + 1] ?? '');
  return out;
}

export interface ForwardContext {
  /** The client as keepd believes it (trustedProxies applied). */
  client: string;
  /** The TCP peer; appended to X-Forwarded-For when it is a trusted proxy. */
  peer: string;
  peerTrusted: boolean;
  /** keepd's own side of the connection: scheme and port the client reached. */
  proto: 'http' | 'https';
  port: number;
  /** Host for requests that have none (HTTP/1.0): the upstream's. */
  upstreamHost: string;
  /** "functional" mode: the account keepd authenticated; its Authorization is not forwarded. */
  identity: { name: string; cn: string | undefined } | undefined;
  /** WebSocket: the Upgrade and Connection headers go through (the upstream must see them). */
  upgrade: boolean;
}

/**
 * The request headers for the upstream, as the product's proxy how-tos set them: hop-by-hop
 * removed, X-Real-IP and X-Forwarded-For/Proto/Host/Port set; a trusted proxy's own forwarding
 * headers are kept (its X-Forwarded-For gets the peer appended), anyone else's are replaced.
 * An HTTP/2 request's pseudo-headers are not forwarded: its `:authority` is the Host when it has
 * none, and its Cookie fields, which HTTP/2 may split, are joined into one (RFC 9113 8.2.3).
 * undefined: a request with two Host or two Authorization headers, or a Host unlike its
 * `:authority`, which is not forwarded.
 */
export function requestHeaders(raw: readonly string[], ctx: ForwardContext): string[] | undefined {
  let out: string[] = [];
  let listed: Set<string> | undefined;
  let host: string | undefined;
  let authority: string | undefined;
  /** HTTP/2 (its pseudo-headers come first): where the one Cookie field's value is in `out`. */
  let http2 = false;
  let cookieAt = -1;
  let authorizations = 0;
  let upgrade = 'websocket';
  // What a trusted proxy said about its client.
  let forwardedFor: string | undefined;
  let proto: string | undefined;
  let forwardedHost: string | undefined;
  let forwardedPort: string | undefined;
  let forwarded: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const value = raw[i + 1] ?? '';
    // `X_Forwarded_User` is `X-Forwarded-User` to servers that map `_` to `-` (CGI and its heirs).
    const lower = name.includes('_') ? name.toLowerCase().replaceAll('_', '-') : name.toLowerCase();
    if (lower.startsWith(':')) {
      http2 = true;
      if (lower === ':authority') authority = value;
      continue;
    }
    if (http2 && lower === 'cookie') {
      if (cookieAt >= 0) out[cookieAt] = `${out[cookieAt] ?? ''}; ${value}`;
      else cookieAt = out.push(name, value) - 1;
      continue;
    }
    if (lower === 'connection') listed = addTokens(value, listed);
    else if (lower === 'upgrade') upgrade = value;
    if (ALWAYS_DROPPED.has(lower)) continue;
    if (lower === 'authorization') {
      // Two credentials: keepd and the product might each read another one.
      if (++authorizations > 1) return undefined;
      if (ctx.identity) continue;
    } else if (lower === 'host') {
      if (host !== undefined) return undefined;
      host = value;
    } else if (FORWARDING.has(lower) || lower.startsWith('x-forwarded-')) {
      if (!ctx.peerTrusted) continue;
      if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (lower === 'x-forwarded-proto') proto ??= value;
      else if (lower === 'x-forwarded-host') forwardedHost ??= value;
      else if (lower === 'x-forwarded-port') forwardedPort ??= value;
      else if (lower === 'forwarded') forwarded ??= value;
      // Other X-Forwarded-* (Prefix, Server, Ssl...): a trusted proxy's go through as they are.
      else if (!FORWARDING.has(lower)) out.push(name, value);
      continue;
    }
    out.push(name, value);
  }
  if (host !== undefined && authority !== undefined && host.toLowerCase() !== authority.toLowerCase()) return undefined;
  out = withoutListed(out, listed);
  // HTTP/1.0 has no Host; HTTP/2 may carry it in :authority alone.
  if (host === undefined) out.push('host', authority ?? ctx.upstreamHost);
  host ??= authority;
  out.push(
    'x-forwarded-for',
    forwardedFor === undefined ? ctx.client : `${forwardedFor}, ${ctx.peer}`,
    'x-real-ip',
    ctx.client,
    'x-forwarded-proto',
    proto ?? ctx.proto,
    'x-forwarded-host',
    forwardedHost ?? host ?? ctx.upstreamHost,
    'x-forwarded-port',
    forwardedPort ?? String(ctx.port),
  );
  if (forwarded !== undefined) out.push('forwarded', forwarded);
  if (ctx.identity) {
    // Percent-encoded UTF-8: account names may hold any character, header values may not.
    out.push(IDENTITY_HEADERS.name, percentEncoded(ctx.identity.name));
    if (ctx.identity.cn !== undefined) out.push(IDENTITY_HEADERS.cn, percentEncoded(ctx.identity.cn));
  }
  if (ctx.upgrade) out.push('connection', 'upgrade', 'upgrade', upgrade);
  return out;
}

/**
 * The upstream's response headers for the client: hop-by-hop removed (node sets its own
 * framing), everything else as the product sent it, Location and Set-Cookie included. HSTS is
 * added on TLS when the product has not set its own.
 */
export function responseHeaders(raw: readonly (Buffer | string)[], hsts: string | undefined, info?: { contentLength: number }): string[] {
  let out: string[] = [];
  let listed: Set<string> | undefined;
  let hasHsts = false;
  for (let i = 0; i < raw.length; i += 2) {
    // HTTP header bytes are latin1: no UTF-8 decoding on the way through.
    const name = latin1(raw[i]);
    const lower = name.toLowerCase();
    const value = latin1(raw[i + 1]);
    if (lower === 'connection') listed = addTokens(value, listed);
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === 'strict-transport-security') hasHsts = true;
    else if (lower === 'content-length' && info) info.contentLength = Number(value);
    out.push(name, value);
  }
  out = withoutListed(out, listed);
  if (hsts !== undefined && !hasHsts) out.push('strict-transport-security', hsts);
  return out;
}

function latin1(value: Buffer | string | undefined): string {
  return value === undefined ? '' : typeof value === 'string' ? value : value.toString('latin1');
}
