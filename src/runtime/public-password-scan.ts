import type { Logger } from 'pino';
import type { AccountIndex } from '../accounts/accounts.js';
import { describePublicCredential, findPublicCredentials, type PublicCredential } from '../accounts/public-credentials.js';
import { REALMS } from '../config/listener-table.js';
import type { ScanProgress } from '../listeners/status-reports.js';
import type { KeepdMetrics } from '../metrics/keepd-metrics.js';

/**
 * Looks for accounts with public passwords after each load, in the background (it costs PBKDF2
 * runs, and neither start-up nor a reload should wait for it). Only the newest configuration's
 * result counts; each account is warned about once while its secret stays the same.
 */
export class PublicPasswordScan {
  #found: PublicCredential[] = [];
  #progress: ScanProgress = { state: 'done', checked: 0, total: 0 };
  #run = 0;
  #warned = new Set<string>();
  #abort: AbortController | undefined;

  constructor(private readonly options: { log: Logger; metrics: KeepdMetrics; changed: () => void }) {
    // Present from the start: 0 until a scan finds something (the pending gauge says how far it is).
    for (const realm of REALMS) options.metrics.publicPasswordAccounts.set({ realm }, 0);
  }

  /** Stops the scan under way (keepd is stopping). */
  stop(): void {
    this.#abort?.abort();
  }

  get found(): PublicCredential[] {
    return this.#found;
  }

  get progress(): ScanProgress {
    return this.#progress;
  }

  scan(accounts: AccountIndex): void {
    // Only the newest configuration's scan is worth its PBKDF2 runs.
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    const run = ++this.#run;
    const total = [...accounts.values()].reduce((sum, realm) => sum + realm.size, 0);
    this.#progress = { state: 'running', checked: 0, total };
    this.options.changed();
    const onProgress = (checked: number): void => {
      if (run === this.#run) this.#progress = { state: 'running', checked, total };
    };
    findPublicCredentials(accounts, { onProgress, signal: abort.signal, forgetOthers: true }).then(
      (found) => {
        if (run !== this.#run) return; // a newer configuration is being scanned
        this.#adopt(found, accounts);
        this.#progress = { state: 'done', checked: total, total };
        this.options.changed();
      },
      (error: unknown) => this.options.log.error({ err: error }, 'the check for public passwords failed'),
    );
  }

  #adopt(found: PublicCredential[], accounts: AccountIndex): void {
    this.#found = found;
    for (const realm of REALMS) this.options.metrics.publicPasswordAccounts.set({ realm }, found.filter((c) => c.realm === realm).length);
    const keys = new Set<string>();
    for (const credential of found) {
      const key = JSON.stringify([credential.realm, credential.account, accounts.get(credential.realm)?.get(credential.account)?.storedSecret]);
      keys.add(key);
      if (!this.#warned.has(key)) this.options.log.warn({ listener: credential.listener, realm: credential.realm, account: credential.account }, describePublicCredential(credential));
    }
    this.#warned = keys;
  }
}
