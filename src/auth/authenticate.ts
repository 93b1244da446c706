import type { Account, AccountIndex } from '../accounts/accounts.js';
import type { Attempt } from '../accounts/login-throttle.js';
import type { Throttle } from '../accounts/shared-throttle.js';
import { unmatchableSecret, verifyPassword, type SaltedSecret } from '../accounts/secret.js';
import type { VerificationCache } from '../accounts/verification-cache.js';
import { VerificationOverloaded, type VerificationLimiter } from '../accounts/verification-limiter.js';
import type { RealmListener, Realm } from '../config/listener-table.js';
import type { TrustTest } from '../config/trusted-proxies.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';
import { errorBody } from '../support/http-answers.js';

/*
 * Authentication, top to bottom: every request of every listener goes through authenticate()
 * (parse the header, throttle, cache, limiter, verify) and gets one typed outcome; refusalResponse() turns
 * a refusal into the answer and the metric. Nothing else in keepd decides who may in: the listeners
 * (listeners/authentication.ts) and the gateway (gateway/proxy.ts) only call it.
 */

export type AuthOutcome =
  | { kind: 'ok'; account: Account }
  | { kind: 'missing' }
  | { kind: 'malformed' }
  | { kind: 'unknown' }
  | { kind: 'wrong' }
  | { kind: 'inactive' }
  | { kind: 'throttled'; retryAfterSeconds: number }
  | { kind: 'overloaded' };

export type Refusal = Exclude<AuthOutcome, { kind: 'ok' }>;

/** What one listener's authentication works with; the state lives as long as the daemon. */
export interface AuthGate {
  readonly listener: RealmListener;
  readonly realm: Realm;
  /** The accounts of the configuration in use, read per request. */
  accounts(): AccountIndex;
  readonly cache: VerificationCache;
  readonly limiter: VerificationLimiter;
  /** Failed logins per client address, for this listener (in memory, or shared through Redis). */
  readonly throttle: Throttle;
  readonly metrics: KeepdMetrics;
  /** trustedProxies in use: whose X-Forwarded-For names the client that the throttle counts. */
  trust(): TrustTest;
}

// RFC 7617: `Basic <token68>`; user-id and password without control characters, the user-id without ':'.
const BASIC = /^basic ([\w.~+/-]+=*)$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The credentials of an `Authorization` header; bytes that are not UTF-8 are malformed, never guessed at. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | 'missing' | 'malformed' {
  if (header === undefined) return 'missing';
  const token = BASIC.exec(header)?.[1];
  if (token === undefined) return 'malformed';
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(token, 'base64'));
  } catch {
    return 'malformed';
  }
  const colon = decoded.indexOf(':');
  if (colon < 0 || CONTROL.test(decoded)) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Unknown users cost a PBKDF2 like everyone else, so response time does not tell who exists. */
const dummySecret: SaltedSecret = unmatchableSecret();

/**
 * Who is this? Synchronous when the answer needs no PBKDF2 nor Redis (a credential verified
 * before, a malformed header, a client throttled here); a promise when a password must be verified.
 */
export function authenticate(gate: AuthGate, header: string | undefined, client: string): AuthOutcome | Promise<AuthOutcome> {
  const credentials = parseBasicAuthorization(header);
  if (typeof credentials === 'string') return { kind: credentials };
  const blocked = gate.throttle.retryAfterSeconds(client);
  if (blocked > 0) return { kind: 'throttled', retryAfterSeconds: blocked };

  const { user, password } = credentials;
  const account = gate.accounts().get(gate.realm)?.get(user);
  // The cache key is computed once and serves both the lookup and, after a verification, the entry.
  const entry = account ? gate.cache.entryFor(gate.realm, user, account.secretTag, password) : undefined;
  if (account?.active === true && entry !== undefined && gate.cache.has(entry) && gate.throttle.trustsCache(client)) {
    gate.throttle.succeeded(client, user);
    return { kind: 'ok', account };
  }
  // A password to verify: counted by the throttle while it runs, so parallel guesses wait.
  const attempt = gate.throttle.begin(client);
  const go = (begun: Attempt): AuthOutcome | Promise<AuthOutcome> => (begun.wait > 0 ? { kind: 'throttled', retryAfterSeconds: begun.wait } : verifyCounted(gate, client, user, begun, account, entry, password));
  return attempt instanceof Promise ? attempt.then(go) : go(attempt);
}

/** verify(), the throttle told of its result whatever happens. */
function verifyCounted(gate: AuthGate, client: string, user: string, attempt: Attempt, account: Account | undefined, entry: string | undefined, password: string): Promise<AuthOutcome> {
  return verify(gate, account, entry, password).then(
    (outcome) => {
      gate.throttle.finish(client, user, outcome.kind === 'ok' ? 'success' : outcome.kind === 'overloaded' ? 'none' : 'failure', attempt);
      return outcome;
    },
    (error: unknown) => {
      gate.throttle.finish(client, user, 'none', attempt);
      throw error;
    },
  );
}

async function verify(gate: AuthGate, account: Account | undefined, entry: string | undefined, password: string): Promise<AuthOutcome> {
  let matches: boolean;
  try {
    matches = await gate.limiter.run(() => verifyPassword(account?.secret ?? dummySecret, password));
  } catch (error) {
    if (error instanceof VerificationOverloaded) return { kind: 'overloaded' };
    throw error;
  }
  if (!account || entry === undefined) return { kind: 'unknown' };
  if (!account.active) return { kind: 'inactive' };
  if (!matches) return { kind: 'wrong' };
  gate.cache.add(entry);
  return { kind: 'ok', account };
}

/** keep_unauthenticated_request_count_total{reason}: the product's labels. */
const UNAUTHENTICATED_REASON = {
  missing: 'missing_credentials',
  malformed: 'malformed_credentials',
  unknown: 'unknown_user',
  wrong: 'wrong_password',
  inactive: 'inactive',
} as const;


export interface RefusalResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: ReturnType<typeof errorBody>;
}

/**
 * The answer and the metric for a refusal. Every 401 has one body, whatever the reason, so that it
 * never tells unknown users, wrong passwords and inactive accounts apart.
 */
export function refusalResponse(gate: AuthGate, refusal: Refusal): RefusalResponse {
  const { listener, realm, metrics } = gate;
  switch (refusal.kind) {
    case 'throttled':
      metrics.throttled.inc({ listener });
      return {
        statusCode: 429,
        headers: { 'retry-after': String(refusal.retryAfterSeconds), 'cache-control': 'no-store' },
        body: errorBody(429, `too many failed logins from this address; retry in ${refusal.retryAfterSeconds} s`),
      };
    case 'overloaded':
      metrics.verificationOverload.inc({ listener });
      return { statusCode: 503, headers: { 'retry-after': '1' }, body: errorBody(503, 'too many new credentials being verified; retry in a second') };
    default:
      metrics.unauthenticated.inc({ listener, reason: UNAUTHENTICATED_REASON[refusal.kind] });
      return {
        statusCode: 401,
        headers: { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"`, 'cache-control': 'no-store' },
        body: errorBody(401, `send Basic credentials of an active account in identity.${realm}`),
      };
  }
}

