/*
 * When to renew, and when to try again after a failure. Pure: the clock and the randomness are
 * the caller's, so these are table-tested.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** A renewal never follows the last success sooner than this (renewBeforeDays over the lifetime would renew without end). */
export const MIN_RENEWAL_SPACING_MS = HOUR_MS;
/** The first retry after a failure; each further one waits twice as long, up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = MINUTE_MS;
export const RETRY_MAX_MS = 6 * HOUR_MS;
/** Renewals of replicas that got their certificates at the same moment are spread over up to this. */
export const JITTER_MAX_MS = HOUR_MS;

export interface CertificateTimes {
  validFromMs: number;
  validToMs: number;
}

/** The moment a certificate is due: renewBeforeDays before it expires, or a third of its lifetime before. */
export function renewalDue(certificate: CertificateTimes, renewBeforeDays: number | undefined): number {
  const lifetime = Math.max(0, certificate.validToMs - certificate.validFromMs);
  const before = renewBeforeDays === undefined ? lifetime / 3 : renewBeforeDays * DAY_MS;
  return certificate.validToMs - before;
}

/**
 * When to renew a certificate that is in use: when it is due, plus jitter (a share of
 * `random` in [0, 1) of up to an hour, never past a tenth of the time left after the due moment),
 * at once when it is overdue, and never sooner than MIN_RENEWAL_SPACING_MS after the last success.
 */
export function renewalAttempt(input: { certificate: CertificateTimes; renewBeforeDays: number | undefined; now: number; lastSuccessMs: number | undefined; random: number }): number {
  const due = renewalDue(input.certificate, input.renewBeforeDays);
  const spacing = input.lastSuccessMs === undefined ? -Infinity : input.lastSuccessMs + MIN_RENEWAL_SPACING_MS;
  const jitter = due > input.now ? input.random * Math.min(JITTER_MAX_MS, (input.certificate.validToMs - due) / 10) : 0;
  return Math.max(input.now, due + jitter, spacing);
}

/**
 * When to try again after `failures` (1 or more) failed attempts in a row: exponential backoff
 * from a minute up to six hours, plus up to 10% jitter; with a certificate in use, never later
 * than a quarter of the time it has left (an expiring certificate is retried ever more often).
 */
export function retryAttempt(input: { failures: number; now: number; validToMs: number | undefined; random: number }): number {
  const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, input.failures - 1));
  const withJitter = backoff * (1 + 0.1 * input.random);
  const left = input.validToMs === undefined ? Infinity : (input.validToMs - input.now) / 4;
  return input.now + Math.max(RETRY_BASE_MS, Math.min(withJitter, left));
}
