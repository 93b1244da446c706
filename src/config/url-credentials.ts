/* Credentials in a URL, found and masked by the URL's own structure (a URL parser's reading). */

/** What every masked value shows. */
export const MASK = '***';

/**
 * A URL's credentials masked by the URL's own structure (the password, or a lone user name, which
 * may be a token), for a key known to hold a URL: the text patterns of mask.ts stop at a space or a
 * quote, which a URL parser takes into a password. Not a URL: wholly masked.
 */
export function maskUrlCredentials(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return MASK;
  }
  if (url.password !== '') url.password = MASK;
  else if (url.username !== '') url.username = MASK;
  return url.href.replaceAll(encodeURIComponent(MASK), MASK);
}

/** Whether a URL parser finds a user or password in the text (which text patterns may miss: a space in it). */
export function hasUrlCredentials(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return url.username !== '' || url.password !== '';
}

