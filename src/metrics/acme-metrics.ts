import { Counter, Gauge, type Registry } from 'prom-client';

/** What the ACME metrics read of the ACME status (acme/manager.ts), structurally: metrics sits below acme. */
export interface AcmeProgress {
  lastSuccessAt: Date | undefined;
  nextAttemptAt: Date | undefined;
  consecutiveFailures: number;
  certificate: { validToMs: number } | undefined;
}

const seconds = (date: Date | undefined): number => (date === undefined ? 0 : date.getTime() / 1000);

/** Certificates from ACME: when the last one came, when keepd tries next, and how attempts fail. */
export class AcmeMetrics {
  readonly failures: Counter;
  readonly #lastSuccess: Gauge;
  readonly #nextAttempt: Gauge;
  readonly #failing: Gauge;
  readonly #expiry: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.failures = new Counter({ name: 'keepd_acme_failures_total', help: 'Failed attempts to obtain or renew the ACME certificate.', registers });
    this.#lastSuccess = new Gauge({ name: 'keepd_acme_last_success_timestamp_seconds', help: 'When keepd last obtained (or took over from the state folder) its ACME certificate, as a Unix timestamp; 0: not since it started.', registers });
    this.#nextAttempt = new Gauge({ name: 'keepd_acme_next_attempt_timestamp_seconds', help: 'When keepd next orders (renews) the ACME certificate, as a Unix timestamp.', registers });
    this.#failing = new Gauge({ name: 'keepd_acme_consecutive_failures', help: 'Failed ACME attempts since the last success; above 0 the current certificate is kept and /health is degraded.', registers });
    this.#expiry = new Gauge({ name: 'keepd_acme_certificate_expiry_timestamp_seconds', help: 'Expiry (notAfter) of the ACME certificate in use, as a Unix timestamp; 0: none yet.', registers });
  }

  /** Before a scrape: the gauges from the status (undefined: ACME off, the gauges are 0). */
  observe(progress: AcmeProgress | undefined): void {
    this.#lastSuccess.set(seconds(progress?.lastSuccessAt));
    this.#nextAttempt.set(seconds(progress?.nextAttemptAt));
    this.#failing.set(progress?.consecutiveFailures ?? 0);
    this.#expiry.set((progress?.certificate?.validToMs ?? 0) / 1000);
  }
}
