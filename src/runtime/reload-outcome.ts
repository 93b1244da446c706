/** What a reload did: applied (with what changed), nothing to do, or refused (still serving the last good configuration). */
export type ReloadOutcome =
  | { status: 'applied'; generation: number; changes: string[]; errors: string[] }
  | { status: 'unchanged'; generation: number }
  | { status: 'rejected'; generation: number; problems: string[] };
