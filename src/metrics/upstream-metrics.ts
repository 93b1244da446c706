import { DURATION_BUCKETS } from './request-metrics.js';

/**
 * The gateway's metrics (keepd_upstream_*), kept in plain numbers and rendered at scrape time for
 * the same reason as request-metrics.ts: they are updated on every proxied request.
 */

/** How a proxied request ended: the class of the product's status, or why there was none. */
export type UpstreamOutcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'unreachable' | 'timeout' | 'aborted' | 'refused';

const OUTCOMES: readonly UpstreamOutcome[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'unreachable', 'timeout', 'aborted', 'refused'];
const CLASSES: readonly UpstreamOutcome[] = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): UpstreamOutcome {
  return CLASSES[Math.floor(status / 100)] ?? '5xx';
}

export class UpstreamMetrics {
  readonly #requests = new Map<UpstreamOutcome, number>(OUTCOMES.map((o) => [o, 0]));
  readonly #buckets = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  #count = 0;
  #sum = 0;
  #sent = 0;
  #received = 0;
  #up: number | undefined;
  #probeSeconds: number | undefined;

  /** The product's response headers arrived `seconds` after the request went out (count() tells how it ended). */
  answered(seconds: number): void {
    this.#count++;
    this.#sum += seconds;
    let index = 0;
    while (index < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[index] ?? Infinity)) index++;
    this.#buckets[index] = (this.#buckets[index] ?? 0) + 1;
  }

  count(outcome: UpstreamOutcome): void {
    this.#requests.set(outcome, (this.#requests.get(outcome) ?? 0) + 1);
  }

  bytes(sent: number, received: number): void {
    this.#sent += sent;
    this.#received += received;
  }

  /** The upstream's state at scrape time; undefined: none configured (the gauges are not shown). */
  probed(state: { reachable: boolean | undefined; latencyMs: number | undefined } | undefined): void {
    this.#up = state?.reachable === undefined ? undefined : state.reachable ? 1 : 0;
    this.#probeSeconds = state?.latencyMs === undefined ? undefined : state.latencyMs / 1000;
  }

  render(): string {
    const lines = [
      '# HELP keepd_upstream_requests_total Requests the data listener forwarded to the product, by outcome: the class of its status, or unreachable (502), timeout (504), aborted (client gone), refused (keepd answered: body limit, throttle).',
      '# TYPE keepd_upstream_requests_total counter',
      ...OUTCOMES.map((o) => `keepd_upstream_requests_total{outcome="${o}"} ${this.#requests.get(o) ?? 0}`),
      '# HELP keepd_upstream_request_duration_seconds Time from forwarding a request to the product\'s response headers.',
      '# TYPE keepd_upstream_request_duration_seconds histogram',
    ];
    let cumulative = 0;
    DURATION_BUCKETS.forEach((bound, index) => {
      cumulative += this.#buckets[index] ?? 0;
      lines.push(`keepd_upstream_request_duration_seconds_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(
      `keepd_upstream_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `keepd_upstream_request_duration_seconds_sum ${this.#sum}`,
      `keepd_upstream_request_duration_seconds_count ${this.#count}`,
      '# HELP keepd_upstream_bytes_total Body bytes through the gateway: sent to the product (requests) and received from it (responses).',
      '# TYPE keepd_upstream_bytes_total counter',
      `keepd_upstream_bytes_total{direction="sent"} ${this.#sent}`,
      `keepd_upstream_bytes_total{direction="received"} ${this.#received}`,
    );
    if (this.#up !== undefined) {
      lines.push('# HELP keepd_upstream_up 1 when the product\'s data port answered at the last probe or proxied request, 0 when keepd could not connect.', '# TYPE keepd_upstream_up gauge', `keepd_upstream_up ${this.#up}`);
    }
    if (this.#probeSeconds !== undefined) {
      lines.push('# HELP keepd_upstream_probe_duration_seconds How long the last successful probe of the product took.', '# TYPE keepd_upstream_probe_duration_seconds gauge', `keepd_upstream_probe_duration_seconds ${this.#probeSeconds}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
