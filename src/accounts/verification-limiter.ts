/** A new credential arrived while every verification slot and queue place was taken. */
export class VerificationOverloaded extends Error {
  /** Service unavailable: the listener's error handler answers it 503 with Retry-After. */
  readonly statusCode = 503;
  constructor() {
    super('too many password verifications in progress');
  }
}

export interface LimiterSettings {
  concurrency: number;
  queueLimit: number;
}

/**
 * Bounds PBKDF2 work: at most `concurrency` verifications run, at most `queueLimit` wait; beyond
 * that a request is refused at once. Memory and queueing delay stay bounded under a flood of new
 * credentials. Cached credentials never come here.
 */
export class VerificationLimiter {
  /** Read at every use: the configuration in use decides. */
  readonly #settings: () => LimiterSettings;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(settings: () => LimiterSettings) {
    this.#settings = settings;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running;
  }

  /** Runs `work` when a slot is free; rejects with VerificationOverloaded when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const { concurrency, queueLimit } = this.#settings();
    if (this.#running >= concurrency) {
      if (this.#waiting.length >= queueLimit) throw new VerificationOverloaded();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    this.#running--;
    // Hand free slots to waiters; more than one when the concurrency was raised meanwhile, none
    // when it was lowered below what runs.
    while (this.#running < this.#settings().concurrency) {
      const next = this.#waiting.shift();
      if (!next) return;
      this.#running++;
      next();
    }
  }
}
