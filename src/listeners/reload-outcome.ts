/** What a reload did: applied (with what changed), nothing to do, or refused (still serving the last good configuration). */
export type ReloadOutcome =
  | { status: 'applied'; generation: number; changes: string[]; errors: string[] }
  | { status: 'unchanged'; generation: number }
  | { status: 'rejected'; generation: number; problems: string[] };

/** What asked for a reload: the label of keepd_config_reloads_total{trigger}. */
export type ReloadTrigger = 'watch' | 'signal' | 'api';

export interface ReloadRequest {
  trigger: ReloadTrigger;
  /** For the log and /health: which file events, which signal, which route. */
  origin: string;
  /**
   * Sends the caller its answer. Called before the changes are applied when the listener the
   * caller is on is about to be rebound or stopped; otherwise the caller answers from the outcome.
   */
  answer?: (planned: ReloadOutcome) => Promise<void>;
}
