import { parseBasicAuthorization } from '../auth/authenticate.js';

/**
 * Which proxied requests are logins, for the login throttle in "passthrough" mode: the product's
 * `POST /api/v1/auth` (JWT login) and any request with Basic credentials (its OData feeds). The
 * path is compared as the product would route it: case, repeated and trailing slashes and
 * percent-encoding do not hide a login.
 */
export const LOGIN_PATH = '/api/v1/auth';

/** Login bodies are small JSON objects, read whole (chunked or not) to learn the user; a larger one gets 413. */
export const LOGIN_BODY_MAX_BYTES = 64 * 1024;

/** The path of a target, percent-decoded; undefined when an escape is malformed. */
function decodedPath(url: string): string | undefined {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/**
 * A request target keepd will not forward: a malformed percent-escape, dot segments and
 * backslashes (raw or percent-encoded, and segments ended by an encoded `/` or `;`). Clients send
 * none (browsers resolve them); a server may resolve them to another route than the one keepd saw,
 * which is how a login would slip past the throttle.
 */
export function ambiguousTarget(url: string): boolean {
  const path = decodedPath(url);
  return path === undefined || path.includes('\\') || /(?:^|[/;])\.{1,2}(?:[/;]|$)/.test(path);
}

/**
 * The path as a router would match it: decoded, `;params` dropped, repeated and trailing slashes
 * gone, case folded (upper then lower, as a case-insensitive comparison in Java would).
 */
export function normalizedPath(url: string): string {
  const path = (decodedPath(url) ?? url)
    .toUpperCase()
    .toLowerCase()
    .split('/')
    .map((segment) => segment.split(';')[0] ?? '')
    .filter((segment) => segment !== '')
    .join('/');
  return `/${path}`;
}

export type Login = { kind: 'jwt' } | { kind: 'basic'; user: string } | undefined;

/**
 * `method` is the effective one: an X-HTTP-Method-Override header a server may honour counts.
 * A POST to the login path is a JWT login whatever Authorization it carries.
 */
export function loginOf(method: string, url: string, authorization: string | undefined): Login {
  if (method.toUpperCase() === 'POST' && normalizedPath(url) === LOGIN_PATH) return { kind: 'jwt' };
  if (authorization !== undefined && /^basic\s/i.test(authorization)) {
    const credentials = parseBasicAuthorization(authorization);
    return { kind: 'basic', user: typeof credentials === 'string' ? '' : credentials.user };
  }
  return undefined;
}

/** The method a server may act on: the request's, or what an override header says. */
export function effectiveMethod(method: string | undefined, headers: Record<string, string | string[] | undefined>): string {
  const override = headers['x-http-method-override'] ?? headers['x-http-method'] ?? headers['x-method-override'];
  return typeof override === 'string' ? override : (method ?? 'GET');
}

/** The `username` of a login body, or '' (the throttle then counts the attempt against nobody in particular). */
export function loginUser(body: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'username' in parsed && typeof parsed.username === 'string') return parsed.username;
  } catch {
    // Not JSON: the product answers 400; nobody to count it for.
  }
  return '';
}

/**
 * What a login's end means for the throttle. `answered`: the product's own status (0: none came);
 * `reached`: the request got to the product (it may have counted it even without answering).
 * - a 401 from the product is a failed login;
 * - a 2xx to a JWT login for a known user is a good one (it clears that user's failures only);
 *   a 2xx to Basic credentials proves nothing (public routes answer whatever the credentials);
 * - no answer after the product got the request (a timeout, the client gone) counts as failed:
 *   the product may have counted it against its 5-strike lockout;
 * - anything else counts for nothing.
 */
export function loginResult(kind: 'jwt' | 'basic', user: string, answered: number, reached: boolean): 'success' | 'failure' | 'none' {
  if (answered === 401) return 'failure';
  if (answered >= 200 && answered < 300) return kind === 'jwt' && user !== '' ? 'success' : 'none';
  if (answered === 0 && reached) return 'failure';
  return 'none';
}
