import type { Logger } from 'pino';
import type { DaemonSnapshot } from '../listeners/status-reports.js';

/**
 * The configuration on disk that is not (all) in effect: the last refused reload, or one whose
 * listeners kept their old sockets. Until a reload succeeds, /health says so.
 */
export class StaleConfig {
  #state: DaemonSnapshot['staleConfig'];
  #lastLogged = '';

  constructor(private readonly log: Logger) {}

  get state(): DaemonSnapshot['staleConfig'] {
    return this.#state;
  }

  /** A refused reload; its problems are logged once (a watcher sees a broken file many times while it stays broken). */
  refused(origin: string, problems: string[], generation: number): void {
    this.#state = { at: new Date(), origin, problems };
    const key = JSON.stringify(problems);
    if (key === this.#lastLogged) return;
    this.#lastLogged = key;
    this.log.error({ origin, problems }, `configuration refused (${origin}); still serving generation ${generation}:\n  ${problems.join('\n  ')}`);
  }

  /** An applied reload whose listeners did not all take it (their errors are logged where they happen). */
  partlyApplied(origin: string, problems: string[]): void {
    this.#state = { at: new Date(), origin, problems };
  }

  /** Resolves with whether there was something stale. */
  clear(): boolean {
    const was = this.#state !== undefined;
    this.#state = undefined;
    this.#lastLogged = '';
    return was;
  }
}
