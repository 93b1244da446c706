import { SECRET_PATTERN } from './secret-format.js';

/**
 * An account name as keepd shows it (warnings, problems, /config, --sources). A name with a ':'
 * can never log in (HTTP Basic ends the user name at the first colon), and is most often a
 * `user:password` pasted whole (curl -u): what follows the colon is not shown. A name that is a
 * salted secret is not shown at all.
 */
export function displayAccountName(name: string): string {
  if (SECRET_PATTERN.test(name)) return '***';
  const colon = name.indexOf(':');
  return colon < 0 ? name : `${name.slice(0, colon)}:***`;
}
