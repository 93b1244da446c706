/**
 * keepd_http_requests_total and keepd_http_request_duration_seconds, kept in plain arrays and
 * rendered in the Prometheus text format at scrape time.
 *
 * Why not prom-client here: its inc()/observe() validate and hash the label object on every call
 * (about 1 µs for the two), which was a measurable share of a cached-credential request. The label
 * values are few and bounded (listener, route pattern, method, status), so a string key finds the
 * series directly.
 */

export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

interface Series {
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  buckets: number[];
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class RequestMetrics {
  readonly #series = new Map<string, Series>();

  record(listener: string, route: string, method: string, status: number, seconds: number): void {
    const key = `${listener} ${route} ${method} ${status}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        labels: `listener="${escape(listener)}",route="${escape(route)}",method="${escape(method)}",status="${status}"`,
        count: 0,
        sum: 0,
        buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
      };
      this.#series.set(key, series);
    }
    series.count++;
    series.sum += seconds;
    let index = 0;
    while (index < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[index] ?? Infinity)) index++;
    series.buckets[index] = (series.buckets[index] ?? 0) + 1;
  }

  render(): string {
    const counter = ['# HELP keepd_http_requests_total HTTP requests answered, by listener, route, method and status code.', '# TYPE keepd_http_requests_total counter'];
    const histogram = [
      '# HELP keepd_http_request_duration_seconds Time from request received to response sent, by listener, route, method and status code.',
      '# TYPE keepd_http_request_duration_seconds histogram',
    ];
    for (const series of this.#series.values()) {
      counter.push(`keepd_http_requests_total{${series.labels}} ${series.count}`);
      let cumulative = 0;
      DURATION_BUCKETS.forEach((bound, index) => {
        cumulative += series.buckets[index] ?? 0;
        histogram.push(`keepd_http_request_duration_seconds_bucket{le="${bound}",${series.labels}} ${cumulative}`);
      });
      histogram.push(`keepd_http_request_duration_seconds_bucket{le="+Inf",${series.labels}} ${series.count}`);
      histogram.push(`keepd_http_request_duration_seconds_sum{${series.labels}} ${series.sum}`);
      histogram.push(`keepd_http_request_duration_seconds_count{${series.labels}} ${series.count}`);
    }
    return `${counter.join('\n')}\n\n${histogram.join('\n')}\n`;
  }
}
