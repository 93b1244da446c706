import type { Logger } from 'pino';
import type { AcmeSettings } from '../config/acme-settings.js';
import type { CertificateSummary } from '../tls/certificate-summary.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';
import type { TlsPolicy } from '../tls/tls-policy.js';
import type { AcmeChallenges } from './challenges.js';
import { openHttpChallenges } from './http-challenge-server.js';
import { tryLock, type LockHolder } from './lock.js';
import { orderCertificate } from './order.js';
import { renewalAttempt, renewalDue, retryAttempt } from './schedule.js';
import { readStoredCertificate } from './stored-certificate.js';
import { acmePaths, privateFolder } from './store.js';

/** While another process holds the order lock, look again this often (it releases within seconds). */
const LOCK_POLL_MS = 1000;

/** What /health, /info, `keepd check` and the metrics say about ACME. */
export interface AcmeStatus {
  directory: string;
  domains: string[];
  challenge: AcmeSettings['challenge'];
  stateDir: string;
  /** ordering: an order is under way; waiting: another process holds the lock; valid: serving, nothing due; failed: the last attempt failed. */
  state: 'ordering' | 'waiting' | 'valid' | 'failed';
  certificate: CertificateSummary | undefined;
  renewAt: Date | undefined;
  nextAttemptAt: Date | undefined;
  lastSuccessAt: Date | undefined;
  consecutiveFailures: number;
  lastError: { message: string; at: Date } | undefined;
  lockHolder: LockHolder | undefined;
}

export interface AcmeManagerOptions {
  log: Logger;
  challenges: AcmeChallenges;
  /** A new certificate (ordered here, or by another process sharing the state folder): into every ACME listener. */
  install: (material: TlsMaterial) => void;
  /** Something the status reports changed. */
  changed: () => void;
  failed: () => void;
  random?: () => number;
}

type Applied = { settings: AcmeSettings; policy: TlsPolicy };

/** A certificate from the state folder, and when it was written there (its renewal spacing survives restarts). */
export interface StoredMaterial {
  material: TlsMaterial;
  storedAtMs: number;
}

/**
 * Obtains and renews the ACME certificate in the background: at once when there is none (or it
 * cannot serve), before it is due otherwise (schedule.ts), retrying with backoff on failure and
 * keeping the current certificate meanwhile. One order at a time per state folder (lock.ts).
 */
export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  #applied: Applied | undefined;
  #key = '';
  #status: AcmeStatus | undefined;
  #material: TlsMaterial | undefined;
  /** When the certificate in use was obtained or stored: no renewal within MIN_RENEWAL_SPACING_MS of it. */
  #obtainedAtMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;
  /** Releases the order lock while an attempt holds it (stop() lets it go at once). */
  #release: (() => Promise<void>) | undefined;

  constructor(options: AcmeManagerOptions) {
    this.#options = options;
  }

  status(): AcmeStatus | undefined {
    return this.#status;
  }

  /** The certificate in use (ordered, or stored), or undefined while there is none. */
  material(): TlsMaterial | undefined {
    return this.#material;
  }

  /**
   * The configuration in use (start, each applied reload) and the certificate the state folder
   * holds (`stored`, read by prepare; undefined: none that can serve). A change of the ACME keys
   * starts over from that certificate; the rest only updates the TLS policy.
   */
  apply(settings: AcmeSettings | undefined, stored: StoredMaterial | undefined, policy: TlsPolicy): void {
    const key = settings === undefined ? '' : JSON.stringify(settings);
    if (key === this.#key && settings) {
      this.#applied = { settings, policy };
      return;
    }
    this.#key = key;
    clearTimeout(this.#timer);
    this.#applied = settings && { settings, policy };
    // What runs may be newer than what the reload read (a renewal since): never go back to an older certificate.
    const newer = this.#material && stored && this.#material.certificate.validToMs > stored.material.certificate.validToMs;
    if (!newer) {
      this.#material = stored?.material;
      this.#obtainedAtMs = stored?.storedAtMs;
    }
    if (!settings) {
      this.#status = undefined;
      this.#options.changed();
      return;
    }
    const { directory, domains, challenge, stateDir } = settings;
    const material = this.#material;
    // Failures carry over a reload: an alert on them must not start over with every edit.
    const failures = this.#status?.consecutiveFailures ?? 0;
    this.#status = { directory, domains, challenge, stateDir, state: material ? 'valid' : 'ordering', certificate: material?.certificate, renewAt: undefined, nextAttemptAt: undefined, consecutiveFailures: failures, lastError: this.#status?.lastError, lockHolder: undefined, lastSuccessAt: this.#status?.lastSuccessAt };
    this.#schedule(this.#nextAttempt());
  }

  /** No new attempt; an order under way lets its lock go now (its result is dropped). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#release?.();
  }

  /** Read through a call: stop() may come while an attempt awaits (TypeScript would keep its narrowing). */
  #isStopped(): boolean {
    return this.#stopped;
  }

  /** When to try next with the certificate in use: its renewal, or now without one. */
  #nextAttempt(): number {
    return this.#material ? this.#renewalAt(this.#material) : Date.now();
  }

  #renewalAt(material: TlsMaterial): number {
    const certificate = times(material);
    const renewBeforeDays = this.#applied?.settings.renewBeforeDays;
    if (this.#status) this.#status.renewAt = new Date(renewalDue(certificate, renewBeforeDays));
    return renewalAttempt({ certificate, renewBeforeDays, now: Date.now(), lastSuccessMs: this.#obtainedAtMs, random: (this.#options.random ?? Math.random)() });
  }

  #schedule(at: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped || !this.#status) return;
    this.#status.nextAttemptAt = new Date(at);
    this.#options.changed();
    // setTimeout holds at most 2^31-1 ms (24.8 days): a later moment is reached in steps.
    const delay = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    const key = this.#key;
    this.#timer = setTimeout(() => {
      if (Date.now() < at) this.#schedule(at);
      else void this.#attempt(key);
    }, delay);
    this.#timer.unref();
  }

  /** One attempt for the configuration `key` (a reload in the meantime makes it moot). */
  async #attempt(key: string): Promise<void> {
    const applied = this.#applied;
    const status = this.#status;
    if (this.#running || !applied || !status || key !== this.#key || this.#stopped) return;
    this.#running = true;
    const { settings } = applied;
    const paths = acmePaths(settings);
    try {
      await privateFolder(settings.stateDir);
      const lock = await tryLock(paths.lock, paths.dir);
      if (!lock.held) {
        status.state = 'waiting';
        status.lockHolder = lock.holder;
        this.#schedule(Date.now() + LOCK_POLL_MS);
        return;
      }
      status.lockHolder = undefined;
      this.#release = lock.release;
      try {
        await this.#obtain(applied, status, key);
      } finally {
        this.#release = undefined;
        await lock.release();
      }
    } catch (error) {
      if (key !== this.#key || this.#isStopped()) return;
      status.consecutiveFailures += 1;
      status.state = 'failed';
      const message = `cannot obtain a certificate for ${settings.domains.join(', ')} from ${settings.directory}: ${error instanceof Error ? error.message : String(error)}`;
      status.lastError = { message, at: new Date() };
      this.#options.failed();
      const next = retryAttempt({ failures: status.consecutiveFailures, now: Date.now(), validToMs: this.#material?.certificate.validToMs, random: (this.#options.random ?? Math.random)() });
      const keeping = this.#material ? `; still serving the current certificate (expires ${this.#material.certificate.validTo})` : '; the ACME listeners have no certificate yet';
      this.#options.log.error({ acme: { domains: settings.domains, failures: status.consecutiveFailures, nextAttemptAt: new Date(next).toISOString() } }, `${message}${keeping}; next attempt at ${new Date(next).toISOString()}`);
      this.#schedule(next);
    } finally {
      this.#running = false;
      // The configuration changed during the attempt (its own schedule found it running): go on with the new one.
      if (key !== this.#key && this.#status && !this.#isStopped()) this.#schedule(this.#nextAttempt());
    }
  }

  /** With the lock held: another process's fresh certificate if there is one, else an order. */
  async #obtain(applied: Applied, status: AcmeStatus, key: string): Promise<void> {
    const { settings, policy } = applied;
    const log = this.#options.log;
    const stored = await readStoredCertificate(settings, policy);
    if (stored.state === 'usable' && stored.material.digest !== this.#material?.digest && renewalDue(times(stored.material), settings.renewBeforeDays) > Date.now()) {
      log.info({ acme: { serialNumber: stored.material.certificate.serialNumber } }, `ACME: using the stored certificate in ${settings.stateDir} (ordered by another keepd, or for an earlier configuration)`);
      this.#adopt(stored.material, status, key);
      return;
    }
    status.state = 'ordering';
    this.#options.changed();
    log.info({ acme: { domains: settings.domains, directory: settings.directory, challenge: settings.challenge } }, `ACME: ordering a certificate for ${settings.domains.join(', ')} from ${settings.directory} (${settings.challenge})`);
    const http = settings.challenge === 'http-01' ? await openHttpChallenges(settings.httpPort, settings.httpHost, this.#options.challenges) : undefined;
    try {
      await orderCertificate(settings, acmePaths(settings), this.#options.challenges);
    } finally {
      await http?.close();
    }
    const ordered = await readStoredCertificate(settings, policy);
    if (ordered.state !== 'usable') throw new Error(ordered.state === 'unusable' ? ordered.reason : 'the certificate was not stored');
    log.info({ acme: { serialNumber: ordered.material.certificate.serialNumber, notAfter: ordered.material.certificate.validTo } }, `ACME: new certificate for ${settings.domains.join(', ')}, valid until ${ordered.material.certificate.validTo}`);
    this.#adopt(ordered.material, status, key);
  }

  #adopt(material: TlsMaterial, status: AcmeStatus, key: string): void {
    if (key !== this.#key || this.#stopped) return;
    this.#material = material;
    this.#obtainedAtMs = Date.now();
    Object.assign(status, { state: 'valid', certificate: material.certificate, lastSuccessAt: new Date(), consecutiveFailures: 0 });
    this.#options.install(material);
    this.#schedule(this.#renewalAt(material));
  }
}

function times(material: TlsMaterial): { validFromMs: number; validToMs: number } {
  return { validFromMs: Date.parse(material.certificate.validFrom), validToMs: material.certificate.validToMs };
}
