/**
 * The gateway benchmark's report: the Markdown printed to stdout and kept in docs/benchmarks.md.
 * In the file, the section is `<!-- bench-gateway:section -->`, a heading and an introduction,
 * the generated part between `<!-- bench-gateway:latest -->` and `<!-- /bench-gateway:latest -->`
 * (the only text a run replaces), then "What misses and why", written by hand and left as it is. scripts/bench.ts replaces its own part only, which ends where this section starts.
 */
import { median, spread } from './measure-tools.js';
import { saveSection } from './report-section.js';
import type { Transfer } from './gateway-stream.js';

export const SECTION_MARKER = '<!-- bench-gateway:section -->';
const START = '<!-- bench-gateway:latest -->';
const END = '<!-- /bench-gateway:latest -->';
const REASONS = '<!-- reasons: filled in by hand -->';

export interface Row {
  key: string;
  label: string;
  rps: number[];
  p99: number[];
  notes: string[];
}

export interface Target {
  name: string;
  met: boolean;
  measured: string;
}

export interface StreamFigures {
  label: string;
  idleRssMiB: number;
  up: Transfer;
  down: Transfer;
  /** Whether the RSS target applies (keepd), or the row is a reference. */
  target: boolean;
}

export interface Report {
  machine: string;
  rows: Row[];
  variants: { label: string; rps: number; p99: number; kept: boolean }[];
  ratios: { name: string; value: number; target: string; met: boolean | undefined }[];
  streams: StreamFigures[];
  targets: Target[];
  notes: string[];
}

export const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const cell = (values: number[], digits = 0): string => (values.length === 0 ? 'n/a' : `${fmt(median(values), digits)} ${spread(values)}`.trim());
const passMiss = (met: boolean | undefined): string => (met === undefined ? 'info' : met ? 'PASS' : '**MISS**');

export function renderReport(report: Report): string {
  const transfer = (t: Transfer): string => (t.ok ? `${fmt(t.mibPerSecond, 0)} MiB/s` : `failed: ${t.problem}`);
  return [
    report.machine,
    '',
    '| server (12-byte `GET /hello`, wrk -t1 -c32) | requests/s | p99 ms |',
    '|---|---|---|',
    ...report.rows.map((r) => `| ${r.label} | ${cell(r.rps)} | ${cell(r.p99, 2)} |`),
    '',
    'Bare Node proxy variants (two short rounds before the main runs, medians; the fastest is the baseline above):',
    '',
    '| variant | requests/s | p99 ms |',
    '|---|---|---|',
    ...report.variants.map((v) => `| ${v.label}${v.kept ? ' (baseline)' : ''} | ${fmt(v.rps)} | ${fmt(v.p99, 2)} |`),
    '',
    '| ratio | value | target | |',
    '|---|---|---|---|',
    ...report.ratios.map((r) => `| ${r.name} | ${fmt(r.value, 2)} | ${r.target} | ${passMiss(r.met)} |`),
    '',
    `Streaming, ${fmt(report.streams[0]?.up.bytes ?? NaN, 0)} bytes each way (curl; RSS of the proxy process sampled every 50 ms, highest during the transfer; sha256 checked end to end):`,
    '',
    '| path | upload | upload max RSS | download | download max RSS | RSS idle before |',
    '|---|---|---|---|---|---|',
    ...report.streams.map((s) => `| ${s.label} | ${transfer(s.up)} | ${fmt(s.up.maxRssMiB, 1)} MiB | ${transfer(s.down)} | ${fmt(s.down.maxRssMiB, 1)} MiB | ${fmt(s.idleRssMiB, 1)} MiB |`),
    '',
    '| target | met | measured |',
    '|---|---|---|',
    ...report.targets.map((t) => `| ${t.name} | ${passMiss(t.met)} | ${t.measured} |`),
    ...report.notes.map((note) => `\nNote: ${note}`),
  ].join('\n');
}

const HEAD = `## Gateway (data port in front of the product)

Written by \`npm run bench -- --save\` (its gateway part, \`scripts/bench-gateway.ts\`; alone:
\`node dist/scripts/bench-gateway.js [--seconds N] [--runs N] [--save]\`). One upstream, the product
stand-in (\`test/helpers/product-stand-in.ts\`, plain http, \`GET /hello\` answers 12 bytes), measured
directly and through: keepd as the data port's gateway (TLS, \`passthrough\`, and \`functional\` with
a cached Basic credential); nginx \`proxy_pass\` with TLS and kept-alive upstream connections, as
the reverse-proxy how-to sets it up; nginx \`auth_basic\` + \`proxy_pass\` (what admins add for a
password; the password file from \`openssl passwd -apr1\`, which nginx checks on every request, with
no cache); and the fastest bare Node https -> http proxy we could write (\`scripts/lib/gateway-bare-proxy.ts\`,
the physical limit for Node). Same certificate (RSA 2048) and cipher list for every TLS server.
Every server, the upstream included, is pinned to core 0, and wrk and curl to core 1: the
upstream and the proxy in front of it share one core, as the issue's setup asks ("every server
on one core, load on the other"), so a proxy's cost also shows as the upstream's lost share.
`;

/** Replaces the generated part of the gateway section in `doc` (creating the section at the end when absent). */
export async function saveReport(doc: string, table: string): Promise<void> {
  await saveSection(doc, { marker: SECTION_MARKER, start: START, end: END, head: HEAD, reasons: REASONS }, table);
}
