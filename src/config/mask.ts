import { displayAccountName } from './account-name.js';
import { getOwn, isJsonObject, setOwn, valueAt, type Json, type JsonObject } from './json.js';
import { MASK, maskUrlCredentials } from './url-credentials.js';

export { MASK };

/*
 * What `GET /config` and `keepd check` must not show, decided by what a value is as much as by
 * the name of its key (docs/security.md#what-the-masked-configuration-hides):
 *
 * - a **secret name** is a key whose own value is a secret: its last word is a credential noun
 *   (`TLSPassword`, `bindPw`, `pwd`, `clientSecret`, `apiKey`, `shutdownkey`, `auth`,
 *   `Authorization`, `cookie`, `credentials`...). Every value at or under it is masked: strings,
 *   numbers, booleans, null.
 * - a **secret-related name** also covers keys that merely mention secrets
 *   (`passwordVerification`, `tokenSettings`, `keyFile`, `private`): strings at or under them are
 *   masked (a password typed there must not show), numbers and booleans are not (they are
 *   settings: `passwordVerification.concurrency` is 4, not a secret).
 * - under `identity`, everything but `active` and `CN` is masked (a password pasted where an
 *   account or its secret belongs); account names are data, not key names.
 * - any other string is masked by what it holds: a salted secret, a PEM block or a JWT whole;
 *   the password of a URL's userinfo (`ldap://admin:***@host`), or the whole userinfo when it has
 *   no password (it may be a token); Basic/Bearer/Digest credentials (`Bearer ***`); the value of
 *   a secret name inside the text (`...;password=***`, `Authorization: Basic ***`).
 */

/** The old, broad rule: a key name that mentions a secret anywhere. Kept so that no string it masked shows now. */
const MENTIONS_SECRET = /pass(word|wd|phrase)?|pwd|secret|token|credential|private|key$|^key|apikey|api_key|key(value|base64|pem|data|material|bytes)|auth(header|string|value)/i;

/** Words that, as the last word of a key name, make its value a secret. */
const SECRET_WORDS = new Set([
  'password', 'passwords', 'passwd', 'pwd', 'pw', 'pass', 'passphrase', 'passcode',
  'secret', 'secrets', 'token', 'tokens', 'credential', 'credentials', 'apikey',
  'key', 'keys', 'privatekey', 'cookie', 'cookies', 'auth', 'authorization',
]);
/** Run-together last words (`shutdownkey`, `bindpw`, `clientsecret`, `keystorepass`). */
const SECRET_SUFFIX = /(password|passwd|passphrase|passcode|pwd|pw|pass|secret|token|apikey|key|cookie|credential)s?$/;
/** Words with a secret suffix that are not credentials. */
const NOT_SECRET_WORDS = new Set(['bypass', 'compass', 'encompass', 'surpass', 'overpass', 'underpass', 'trespass']);

/** The words of a key name: `TLSPassword` → tls, password; `x-api-key` → x, api, key; `password2` → password. */
function wordsOf(name: string): string[] {
  // Lookarounds only, so that the split stays linear in the name's length.
  return name
    .split(/[^A-Za-z]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .filter((word) => word !== '')
    .map((word) => word.toLowerCase());
}

/** A key whose own value is a secret, whatever its type: its last word is a credential noun. */
export function isSecretName(key: string): boolean {
  const last = wordsOf(key).at(-1);
  if (last === undefined || NOT_SECRET_WORDS.has(last)) return false;
  return SECRET_WORDS.has(last) || SECRET_SUFFIX.test(last);
}

/** A key that names or mentions a secret: strings at or under it are masked. */
export function isSecretKeyName(key: string): boolean {
  return isSecretName(key) || MENTIONS_SECRET.test(key);
}

/** Keys under `identity` whose values are not secret. */
const PLAIN_ACCOUNT_KEYS = new Set(['active', 'CN']);

function isPlainAccountKey(path: readonly (string | number)[]): boolean {
  const last = path[path.length - 1];
  return typeof last === 'string' && PLAIN_ACCOUNT_KEYS.has(last);
}

/**
 * True when a key path leads to, or lies inside, something secret: for "found ..." in validation
 * messages, where the value may be of any type, so the broad rule. Under `identity` everything
 * but `active` and `CN` counts: a password pasted where an account or its secret belongs must not
 * be echoed back in an error message.
 */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  if (path[0] === 'identity' && !isPlainAccountKey(path)) return true;
  return path.some((step) => typeof step === 'string' && isSecretKeyName(step));
}

/* ---- values that are credentials whatever their key ---------------------------------------- */

const SALTED_SECRET = /(?<![0-9a-f])[0-9a-f]{64}:[0-9a-f]{128}(?![0-9a-f])/i;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----/;
/*
 * The patterns below run on every string of the configuration, some of them large: each is linear
 * in the text's length (bounded repetitions, or one start per run, where a match could otherwise
 * start at many places; `(?=(x*))\1` matches x* without backtracking into it).
 */
/**
 * A JSON Web Token: base64url header and payload, both JSON objects (`eyJ` is `{"`), and a
 * signature; starting where a run of base64url characters starts (one try per run).
 */
const JWT = /(?<![\w-])eyJ(?=([\w-]*))\1\.eyJ(?=([\w-]*))\2\.(?=([\w-]*))\3/g;

/** `scheme://rest`, the rest running to whitespace, a quote, or the next `scheme://`. */
const URL_WITH_REST = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)((?:(?![a-z][a-z0-9+.-]{0,31}:\/\/)[^\s"'<>])*)/gi;

/** Where the userinfo of a URL's rest (after `scheme://`) ends: the index of its `@`, or -1. */
function userinfoEnd(rest: string): number {
  const delimiter = rest.search(/[/?#]/);
  const authority = delimiter < 0 ? rest : rest.slice(0, delimiter);
  const at = authority.lastIndexOf('@'); // as WHATWG URL does: an '@' in a password is the user's typo
  if (at >= 0 || delimiter < 0 || authority.startsWith('[')) return at;
  // A password holding an unencoded '/', '?' or '#' (invalid, yet written: user:ab/cd@host); a
  // colon followed by digits only is a port.
  const colon = authority.indexOf(':');
  if (colon < 0 || /^\d*$/.test(authority.slice(colon + 1))) return -1;
  return rest.indexOf('@', delimiter);
}

function maskUrlUserinfo(text: string): string {
  return text.replace(URL_WITH_REST, (_match, scheme: string, rest: string) => {
    const at = userinfoEnd(rest);
    if (at <= 0) return scheme + rest;
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    // Without a password, the userinfo itself may be a token (https://TOKEN@github.com/...).
    return `${scheme}${colon < 0 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`}${rest.slice(at)}`;
  });
}

/** HTTP authentication schemes whose credentials are one token68, and those with parameters. */
const TOKEN_SCHEMES = 'Basic|Bearer|Negotiate|NTLM';
const PARAMETER_SCHEMES = 'Digest|AWS4-HMAC-SHA256|HOBA|Mutual|SCRAM-SHA-1|SCRAM-SHA-256|OAuth|vapid';
const WHOLE_TOKEN_CREDENTIALS = new RegExp(`^(\\s*(?:${TOKEN_SCHEMES})\\s+)[A-Za-z0-9._~+/-]+=*(\\s*)$`, 'i');
const WHOLE_PARAMETER_CREDENTIALS = new RegExp(`^(\\s*(?:${PARAMETER_SCHEMES})\\s+)[\\w-]+\\s*=.*$`, 'is');
const LEADING_SCHEME = new RegExp(`(?:${TOKEN_SCHEMES}|${PARAMETER_SCHEMES})\\s+`, 'iy');

/** A whole value that is the credentials of an `Authorization` header: `Bearer ***`, `Digest ***`. */
function maskWholeCredentials(text: string): string {
  return text.replace(WHOLE_TOKEN_CREDENTIALS, `$1${MASK}$2`).replace(WHOLE_PARAMETER_CREDENTIALS, `$1${MASK}`);
}

/** Names whose value, inside a text, runs to the end of the line or quote (header values). */
const HEADER_NAMES = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const IDENTIFIER = /[A-Za-z][\w.-]*/g;
/** After a name: an optional closing quote (JSON in a string), then `=` or `:`. */
const SEPARATOR = /(["']?\s*[:=]\s*)/y;
const HEADER_VALUE = /[^\r\n"']*/y;
/** A quoted value (to its closing quote, or the end of an unterminated one), or one token. */
const TOKEN_VALUE = /"[^"]*"?|'[^']*'?|[^\s&;,"'<>]+/y;

/** The masked form of the value of a secret name found at `from`, and where that value ends. */
function maskedValueAt(text: string, name: string, from: number): { end: number; replacement: string } | undefined {
  // Already masked (by the URL rule, or a value written as ***): checked before any scan, so that
  // a text of many such names is not scanned to its end once per name.
  const quote = text.charAt(from) === '"' || text.charAt(from) === "'" ? text.charAt(from) : '';
  LEADING_SCHEME.lastIndex = from + quote.length;
  const scheme = LEADING_SCHEME.exec(text)?.[0] ?? '';
  if (text.startsWith(MASK, from + quote.length + scheme.length)) return undefined;
  if (HEADER_NAMES.has(name.toLowerCase())) {
    HEADER_VALUE.lastIndex = from + quote.length + scheme.length;
    const value = HEADER_VALUE.exec(text)?.[0] ?? '';
    if (scheme === '' && value.trim() === '') return undefined;
    return { end: HEADER_VALUE.lastIndex, replacement: `${quote}${scheme}${MASK}` };
  }
  TOKEN_VALUE.lastIndex = from;
  const value = TOKEN_VALUE.exec(text)?.[0];
  if (value === undefined) return undefined;
  return { end: TOKEN_VALUE.lastIndex, replacement: quote === '' ? MASK : `${quote}${MASK}${quote}` };
}

/** `password=x`, `Pwd=x;`, `--bind-pw=x`, `"token":"x"`, `Authorization: Basic x` inside a text. */
function maskNamedValues(text: string): string {
  let out = '';
  let copied = 0;
  for (const match of text.matchAll(IDENTIFIER)) {
    const name = match[0];
    const nameEnd = match.index + name.length;
    if (match.index < copied || !isSecretName(name)) continue;
    SEPARATOR.lastIndex = nameEnd;
    const separator = SEPARATOR.exec(text);
    if (!separator) continue;
    const masked = maskedValueAt(text, name, SEPARATOR.lastIndex);
    if (!masked) continue;
    out += text.slice(copied, SEPARATOR.lastIndex) + masked.replacement;
    copied = masked.end;
  }
  return out + text.slice(copied);
}

/**
 * A string with the credentials it holds masked, by what they are (the key it sits under is
 * not known here): `***` for a salted secret or key material, else the text with each credential
 * replaced by `***` and the rest kept readable.
 */
export function maskCredentialsIn(value: string): string {
  if (SALTED_SECRET.test(value) || PEM_BLOCK.test(value)) return MASK;
  return maskWholeCredentials(maskNamedValues(maskUrlUserinfo(value.replace(JWT, MASK))));
}

/* ---- the walk ------------------------------------------------------------------------------ */

interface Place {
  /** A secret name at or above: every value is masked. */
  secret: boolean;
  /** A secret-related name at or above: strings are masked (numbers, booleans and null are settings). */
  related: boolean;
  /** Under `identity`: everything but `active` and `CN` is masked. */
  identity: boolean;
}

function maskLeaf(value: null | boolean | number | string, place: Place, key: string | number | undefined): Json {
  if (place.identity && !(typeof key === 'string' && PLAIN_ACCOUNT_KEYS.has(key))) return MASK;
  if (place.secret) return MASK;
  if (typeof value !== 'string') return value;
  if (place.related) return MASK;
  return maskCredentialsIn(value);
}

function maskValue(value: Json, place: Place, key: string | number | undefined): Json {
  if (Array.isArray(value)) return value.map((item, index) => maskValue(item, place, index));
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [childKey, child] of Object.entries(value)) {
      // Account names (identity.<realm>.<name>) are data: they say nothing about their values.
      const childPlace: Place = place.identity
        ? place
        : { secret: place.secret || isSecretName(childKey), related: place.related || isSecretKeyName(childKey), identity: false };
      setOwn(out, childKey, maskValue(child, childPlace, childKey));
    }
    return out;
  }
  return maskLeaf(value, place, key);
}

/** Keys that hold a URL with credentials, masked by its structure (maskUrlCredentials). */
const CREDENTIAL_URLS: readonly (readonly string[])[] = [['loginRateLimit', 'store', 'redis', 'url']];

/** A deep copy of the configuration with every secret value replaced by `***`. */
export function maskConfig(config: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(config)) {
    const place: Place = key === 'identity'
      ? { secret: false, related: false, identity: true }
      : { secret: isSecretName(key), related: isSecretKeyName(key), identity: false };
    setOwn(out, key, maskValue(value, place, key));
  }
  const identity = out.identity;
  if (isJsonObject(identity)) setOwn(out, 'identity', withDisplayedAccountNames(identity));
  for (const setting of SETTINGS) showSetting(config, out, setting);
  for (const path of CREDENTIAL_URLS) {
    const value = valueAt(config, path);
    if (typeof value === 'string') showSetting(config, out, { path, values: /[^]*/ }, maskUrlCredentials(value));
  }
  return out;
}

/**
 * keepd's own keys whose names sound secret but hold a setting: shown when they hold one of their
 * valid values (anything else, a password pasted in the wrong place perhaps, stays masked).
 */
const SETTINGS: readonly { path: readonly string[]; values: ReadonlySet<string> | RegExp }[] = [
  { path: ['listeners', 'data', 'upstream', 'auth'], values: new Set(['passthrough', 'functional']) },
  // A Redis key prefix is free text: shown when it reads as one (words and separators, ending in one).
  { path: ['loginRateLimit', 'store', 'redis', 'keyPrefix'], values: /^[A-Za-z0-9_.-]{0,40}([:/][A-Za-z0-9_.-]{1,40}){0,3}[:/]$/ },
];

/** Writes `shown` (default: the value itself) at the setting's path of the masked copy, when the value is one of its values. */
function showSetting(config: JsonObject, masked: JsonObject, setting: (typeof SETTINGS)[number], shown?: string): void {
  const found = valueAt(config, setting.path);
  if (typeof found !== 'string' || !(setting.values instanceof RegExp ? setting.values.test(found) : setting.values.has(found))) return;
  const value = shown ?? found;
  let target: Json | undefined = masked;
  for (const step of setting.path.slice(0, -1)) target = isJsonObject(target) ? getOwn(target, step) : undefined;
  const last = setting.path[setting.path.length - 1];
  if (isJsonObject(target) && last !== undefined) setOwn(target, last, value);
}

/** Account names as keepd shows them (account-name.ts): `user:password` pasted as a name shows `user:***`. */
function withDisplayedAccountNames(identity: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [realm, accounts] of Object.entries(identity)) {
    if (!isJsonObject(accounts)) {
      setOwn(out, realm, accounts);
      continue;
    }
    const shown: JsonObject = {};
    for (const [name, account] of Object.entries(accounts)) setOwn(shown, displayAccountName(name), account);
    setOwn(out, realm, shown);
  }
  return out;
}
