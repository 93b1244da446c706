/* Credentials in a URL, found and masked by the URL's own structure (a URL parser's reading). */

/** What every masked value shows. */
export const MASK = '***';

/** The URL a parser reads in the text, or undefined (Node 20 has no URL.parse). */
export function parseUrl(text: string): URL | undefined {
  return URL.canParse(text) ? new URL(text) : undefined;
}

/**
 * A URL's credentials masked by the URL's own structure (the password, or a lone user name, which
 * may be a token), for a key known to hold a URL: the text patterns of mask.ts stop at a space or a
 * quote, which a URL parser takes into a password. Not a URL: wholly masked.
 */
export function maskUrlCredentials(text: string): string {
  const url = parseUrl(text);
  if (!url) return MASK;
  if (url.password !== '') url.password = MASK;
  else if (url.username !== '') url.username = MASK;
  return url.href.replaceAll(encodeURIComponent(MASK), MASK);
}

/** Whether a URL parser finds a user or password in the text (which text patterns may miss: a space in it). */
export function hasUrlCredentials(text: string): boolean {
  const url = parseUrl(text);
  return url !== undefined && (url.username !== '' || url.password !== '');
}

