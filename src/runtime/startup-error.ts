/** keepd could not start: every reason, each a sentence for the admin, and the exit code that fits. */
export class StartupError extends Error {
  constructor(
    readonly reasons: string[],
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(reasons.join('\n'));
  }
}
