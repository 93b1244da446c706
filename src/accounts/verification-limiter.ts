/** A new credential arrived while every verification slot and queue place was taken. */
export class VerificationOverloaded extends Error {
  /** Not 401: @fastify/basic-auth turns errors without a status into 401 challenges. */
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
  #settings: LimiterSettings;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(settings: LimiterSettings) {
    this.#settings = settings;
  }

  configure(settings: LimiterSettings): void {
    this.#settings = settings;
    this.#drain();
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running;
  }

  /** Runs `work` when a slot is free; rejects with VerificationOverloaded when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#settings.concurrency) {
      if (this.#waiting.length >= this.#settings.queueLimit) throw new VerificationOverloaded();
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
    // The slot passes straight to the next waiter, unless the concurrency was lowered meanwhile.
    const next = this.#running <= this.#settings.concurrency ? this.#waiting.shift() : undefined;
    if (next) next();
    else this.#running--;
  }

  #drain(): void {
    while (this.#running < this.#settings.concurrency) {
      const next = this.#waiting.shift();
      if (!next) return;
      this.#running++;
      next();
    }
  }
}
