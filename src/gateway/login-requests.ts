import { parseBasicAuthorization } from '../auth/authenticate.js';

/**
 * Which proxied requests are logins, for the login throttle in "passthrough" mode: the product's
 * `POST /api/v1/auth` (JWT login) and any request with Basic credentials (its OData feeds). The
 * path is compared as the product would route it: case, repeated and trailing slashes and
 * percent-encoding do not hide a login.
 */
export const LOGIN_PATH = '/api/v1/auth';

/** Login bodies are small JSON objects; a larger one is forwarded without its user being read. */
export const LOGIN_BODY_PEEK_BYTES = 64 * 1024;

export function normalizedPath(url: string): string {
  const query = url.indexOf('?');
  let path = query < 0 ? url : url.slice(0, query);
  if (path.includes('%')) {
    try {
      path = decodeURIComponent(path);
    } catch {
      // A malformed escape: compared as it is; the product will refuse it too.
    }
  }
  path = path.toLowerCase().replace(/\/{2,}/g, '/');
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export type Login = { kind: 'jwt' } | { kind: 'basic'; user: string } | undefined;

export function loginOf(method: string, url: string, authorization: string | undefined): Login {
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    const credentials = parseBasicAuthorization(authorization);
    return { kind: 'basic', user: typeof credentials === 'string' ? '' : credentials.user };
  }
  if (method === 'POST' && normalizedPath(url) === LOGIN_PATH) return { kind: 'jwt' };
  return undefined;
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
