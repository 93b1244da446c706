/**
 * The front/HTTP/2 benchmark's report (scripts/bench-front.ts): the Markdown printed to stdout and
 * kept in docs/benchmarks.md. In the file, the section is `<!-- bench-front:section -->`, a heading
 * and an introduction, the generated part between `<!-- bench-front:latest -->` and
 * `<!-- /bench-front:latest -->` (the only text a run replaces), then "What misses and why",
 * written by hand and left as it is. It comes after the gateway section (gateway-report.ts);
 * scripts/bench.ts replaces its own part only, which ends where the first of these sections starts.
 */
import { median, spread } from './measure-tools.js';
import { saveSection } from './report-section.js';

export const SECTION_MARKER = '<!-- bench-front:section -->';
const START = '<!-- bench-front:latest -->';
const END = '<!-- /bench-front:latest -->';
const REASONS = '<!-- reasons: filled in by hand -->';

export const TOOLS = ['h2', 'h1', 'wrk'] as const;
export type Tool = (typeof TOOLS)[number];
export const TOOL_LABELS: Record<Tool, string> = {
  h2: 'HTTP/2 (h2load -c32 -m10)',
  h1: 'HTTP/1.1 (h2load --h1 -c32)',
  wrk: 'HTTP/1.1 (wrk -c32)',
};

/** One target's figures for one tool, a value per counted run. */
export interface Series {
  rps: number[];
  p99: number[];
  /** The server process's CPU per request (µs): keepd and bare Node. */
  cpuUs: number[];
  /** Runs that did not count, and why. */
  failures: string[];
  notes: string[];
}

export const emptySeries = (): Series => ({ rps: [], p99: [], cpuUs: [], failures: [], notes: [] });

export interface TargetFigures {
  name: string;
  series: Record<Tool, Series>;
}

/** The front port against the health port for one tool: costs per run, each from a back-to-back pair. */
export interface RoutingCost {
  tool: Tool;
  pairedRps: number[];
  pairedCpu: number[];
}

export interface Verdict {
  name: string;
  met: boolean | undefined;
  measured: string;
}

export interface FrontReport {
  machine: string;
  targets: TargetFigures[];
  ratios: { name: string; value: number }[];
  costs: RoutingCost[];
  /** The front's own work per routed request, in-process (µs, median and rounds), and keepd's CPU per request on the health port (wrk). */
  ownWork: { microseconds: number; rounds: number[]; perRequest: number };
  verdicts: Verdict[];
  notes: string[];
}

export const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const cell = (values: number[], digits = 0): string => (values.length === 0 ? 'n/a' : `${fmt(median(values), digits)} ${spread(values)}`.trim());
/** A fraction as a signed percentage: +3.2%, -1.0%. */
export const signed = (value: number): string => (Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%` : 'n/a');
const percent = (values: number[]): string => (values.length === 0 ? 'n/a' : `${signed(median(values))} (runs ${values.map(signed).join(', ')})`);
const passMiss = (met: boolean | undefined): string => (met === undefined ? 'info' : met ? 'PASS' : '**MISS**');

/** 1 - front / separate, from the medians. */
export function costOfMedians(front: number[], separate: number[]): number {
  return 1 - median(front) / median(separate);
}

export function renderReport(report: FrontReport): string {
  const byName = new Map(report.targets.map((t) => [t.name, t]));
  const separate = byName.get('keepd');
  const front = byName.get('keepd, front port');
  const cpuRows = report.targets.filter((t) => t.series.h2.cpuUs.length + t.series.h1.cpuUs.length + t.series.wrk.cpuUs.length > 0);
  return [
    report.machine,
    '',
    `| /health, keep-alive, requests/s | ${TOOLS.map((t) => TOOL_LABELS[t]).join(' | ')} |`,
    `|---|${TOOLS.map(() => '---').join('|')}|`,
    ...report.targets.map((t) => `| ${t.name} | ${TOOLS.map((tool) => cell(t.series[tool].rps)).join(' | ')} |`),
    '',
    `| /health, keep-alive, p99 ms | ${TOOLS.map((t) => TOOL_LABELS[t]).join(' | ')} |`,
    `|---|${TOOLS.map(() => '---').join('|')}|`,
    ...report.targets.map((t) => `| ${t.name} | ${TOOLS.map((tool) => cell(t.series[tool].p99, 2)).join(' | ')} |`),
    '',
    `| server CPU per request, µs (process ticks / requests; all its threads) | ${TOOLS.map((t) => TOOL_LABELS[t]).join(' | ')} |`,
    `|---|${TOOLS.map(() => '---').join('|')}|`,
    ...cpuRows.map((t) => `| ${t.name} | ${TOOLS.map((tool) => cell(t.series[tool].cpuUs, 1)).join(' | ')} |`),
    '',
    '| ratio (medians) | value |',
    '|---|---|',
    ...report.ratios.map((r) => `| ${r.name} | ${fmt(r.value, 2)} |`),
    '',
    'Front routing cost, 1 - front port / health port (same account, same /health, same process; each run measures the two back to back, in swapped order every other run):',
    '',
    '| protocol | health port req/s | front port req/s | health port p99 ms | front port p99 ms | cost, medians | cost, median of the paired runs | CPU per request, front / health port |',
    '|---|---|---|---|---|---|---|---|',
    ...report.costs.map((c) => {
      const s = separate?.series[c.tool];
      const f = front?.series[c.tool];
      const cpu = s && f && s.cpuUs.length > 0 && f.cpuUs.length > 0 ? `${fmt(median(f.cpuUs), 1)} / ${fmt(median(s.cpuUs), 1)} µs (paired: ${percent(c.pairedCpu)})` : 'n/a';
      return `| ${TOOL_LABELS[c.tool]} | ${cell(s?.rps ?? [])} | ${cell(f?.rps ?? [])} | ${cell(s?.p99 ?? [], 2)} | ${cell(f?.p99 ?? [], 2)} | ${signed(costOfMedians(f?.rps ?? [], s?.rps ?? []))} | ${percent(c.pairedRps)} | ${cpu} |`;
    }),
    '',
    `The front listener's own work on a routed request, in-process (scripts/lib/front-own-work.ts: its front door with these routes, given \`GET /health\` as node's HTTP/1.1 parser hands it over, fresh strings, not yet complete, the health listener's deadline 30 s; the listener entry it hands the request to does nothing; CPU per call, median of 11 rounds of 200,000): ${fmt(report.ownWork.microseconds, 2)} µs (rounds ${fmt(Math.min(...report.ownWork.rounds), 2)} to ${fmt(Math.max(...report.ownWork.rounds), 2)}), ${fmt((report.ownWork.microseconds / report.ownWork.perRequest) * 100, 1)}% of keepd's ${fmt(report.ownWork.perRequest, 1)} µs of CPU per request on the health port (wrk).`,
    '',
    '| target | met | measured |',
    '|---|---|---|',
    ...report.verdicts.map((v) => `| ${v.name} | ${passMiss(v.met)} | ${v.measured} |`),
    ...report.notes.map((note) => `\nNote: ${note}`),
  ].join('\n');
}

const HEAD = `## HTTP/2 and the front listener

Written by \`npm run bench -- --save\` (its third part, \`scripts/bench-front.ts\`; alone:
\`npm run bench:front -- [--seconds N] [--runs N] [--save]\`; tools: \`apt-get install -y
nghttp2-client wrk openssl nginx\`). One keepd with the front listener on (the how-to's "one
domain with paths" routes, \`/health\` the seventh of eight), its health listener's \`/health\` with
a cached Basic credential, over HTTP/2 (h2load, 32 connections, 10 streams each) and HTTP/1.1
keep-alive (h2load \`--h1\` and wrk, 32 connections), next to a bare Node
\`http2.createSecureServer({allowHTTP1: true})\` doing the same Basic check (\`scripts/lib/bare-server.ts
--http2\`) and nginx 1.22 (\`listen ... ssl http2;\`, the same JSON behind \`auth_basic\`, which
hashes the apr1 password on every request). Then the same requests on the front listener's port,
routed to the health listener in-process, against the health listener's own port: the routing
cost. Same certificate (RSA 2048) and cipher list everywhere; servers pinned to core 0, the load
generators and this script to core 1; every target checked first (right password 200, wrong 401,
over each protocol it speaks); a run with a non-2xx answer, an errored or timed-out request, or
another protocol than asked does not count. p99 for h2load from its per-request log.
`;

/** Replaces the generated part of the front section in `doc` (creating the section at the end when absent). */
export async function saveReport(doc: string, table: string): Promise<void> {
  await saveSection(doc, { marker: SECTION_MARKER, start: START, end: END, head: HEAD, reasons: REASONS }, table);
}
