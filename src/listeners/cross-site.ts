/*
 * A browser that has logged in to the management console keeps the Basic credentials for that
 * origin and sends them with any request to it, including one a page on another site makes
 * (a form POST needs no CORS preflight): POST /shutdown without a shutdown key, or /reload, or
 * /throttled/release, could be triggered that way. Browsers say where a request comes from
 * (Sec-Fetch-Site, Origin); scripts (curl, `keepd reload`) send neither and are not affected.
 */

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why a request must be refused as cross-site; undefined: it may go on. */
export function crossSiteRefusal(method: string, headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  if (SAFE_METHODS.has(method.toUpperCase())) return undefined;
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `a ${site} request from a browser`;
  const origin = headers.origin;
  if (typeof origin !== 'string') return undefined;
  const host = headers[':authority'] ?? headers.host;
  if (origin === 'null') return 'a request from a page without an origin';
  if (!URL.canParse(origin) || typeof host !== 'string' || new URL(origin).host !== host.toLowerCase()) return `a request from the page of another origin (${origin.slice(0, 100)})`;
  return undefined;
}
