import { api, errorText } from './api.js';
import { fill, h, message, table, type Child, type Page } from './dom.js';

interface Certificate {
  subject: string;
  issuer: string;
  subjectAltName: string | null;
  notAfter: string;
  daysUntilExpiry: number;
}
interface Listener {
  enabled: boolean;
  up: boolean;
  scheme: string | null;
  http2: boolean | null;
  address: string | null;
  port: number | null;
  certificate: Certificate | null;
  sni: (Certificate & { hostnames: string[] })[];
}
interface Info {
  version: string;
  pid: number;
  startedAt: string;
  configDir: string;
  configFiles: string[];
  generation: number;
  loadedAt: string;
  staleConfig: { at: string; origin: string; problems: string[] } | null;
  listeners: Record<string, Listener>;
  accounts: Record<string, number>;
  publicCredentials: { listener: string; realm: string; account: string }[];
  publicPasswordScan?: { state: string; checked: number; total: number };
  warnings: string[];
  upstream?: { url: string; reachable: boolean | null; latencyMs?: number; lastError?: { message: string } } | null;
  acme?: { status: string; state: string; domains: string[]; directory: string; challenge: string; notAfter: string | null; nextAttemptAt: string | null; consecutiveFailures: number; lastError: { message: string; at: string } | null } | null;
}

const when = (iso: string | null): string => (iso === null ? '–' : new Date(iso).toLocaleString());

/** Certificates from ACME: what is served, when keepd orders next, and why the last attempt failed. */
function acmeCard(acme: NonNullable<Info['acme']>): Child {
  const serving = acme.notAfter === null ? 'no certificate yet: the ACME listeners cannot serve' : `certificate valid until ${when(acme.notAfter)}`;
  return h(
    'section',
    { class: 'card', id: 'acme' },
    h('h2', {}, 'ACME certificate'),
    h('p', {}, `${acme.domains.join(', ')} from ${acme.directory} (${acme.challenge}): ${serving}; ${acme.state}, next attempt ${when(acme.nextAttemptAt)}.`),
    acme.lastError && acme.consecutiveFailures > 0 && h('div', { class: 'msg error', role: 'alert' }, `${acme.consecutiveFailures} failed attempt(s); the last at ${when(acme.lastError.at)}: ${acme.lastError.message}`),
  );
}

/** Below this many days a certificate is highlighted (as /health turns "degraded"). */
const EXPIRY_WARNING_DAYS = 14;
const yesNo = (value: boolean | null): string => (value === null ? '–' : value ? 'yes' : 'no');

function certificateRow(where: string, certificate: Certificate): { cells: Child[]; className?: string } {
  const days = certificate.daysUntilExpiry;
  return {
    cells: [where, certificate.subject, certificate.issuer, certificate.subjectAltName ?? '–', certificate.notAfter, h('span', { class: 'days' }, days < 0 ? `expired ${-days} days ago` : `${days}`)],
    ...(days < EXPIRY_WARNING_DAYS ? { className: 'warn' } : {}),
  };
}

function render(info: Info): Child[] {
  const listeners = Object.entries(info.listeners);
  const certificates = listeners.flatMap(([name, l]) => [
    ...(l.certificate ? [certificateRow(name, l.certificate)] : []),
    ...l.sni.map((entry) => certificateRow(`${name} (SNI: ${entry.hostnames.join(', ')})`, entry)),
  ]);
  return [
    h(
      'section',
      { class: 'card', id: 'config-state' },
      h('h2', {}, 'Configuration'),
      h('p', {}, 'Generation ', h('strong', { id: 'generation' }, info.generation), ', loaded ', h('time', { datetime: info.loadedAt }, new Date(info.loadedAt).toLocaleString()), ` from ${info.configDir} (${info.configFiles.join(', ')}).`),
      info.staleConfig
        ? h('div', { class: 'msg error', role: 'alert', id: 'stale' }, `Stale: the edit seen ${new Date(info.staleConfig.at).toLocaleString()} (${info.staleConfig.origin}) was refused; keepd serves generation ${info.generation}.`, h('ul', { class: 'problems' }, info.staleConfig.problems.map((p) => h('li', {}, p))))
        : h('p', { class: 'msg ok' }, 'Up to date with the files on disk.'),
      info.warnings.length > 0 && h('ul', { class: 'problems' }, info.warnings.map((w) => h('li', {}, w))),
      h('p', { class: 'muted' }, `keepd ${info.version}, pid ${info.pid}, started ${new Date(info.startedAt).toLocaleString()}.`),
    ),
    h('div', { class: 'scroll' }, table('Listeners', ['listener', 'enabled', 'up', 'scheme', 'address', 'port', 'HTTP/2'], listeners.map(([name, l]) => ({ cells: [name, yesNo(l.enabled), yesNo(l.enabled ? l.up : null), l.scheme ?? '–', l.address ?? '–', l.port ?? '–', yesNo(l.http2)], ...(l.enabled && !l.up ? { className: 'warn' } : {}) })))),
    h('div', { class: 'scroll' }, table('Certificates', ['listener', 'subject', 'issuer', 'names (SAN)', 'expires', 'days left'], certificates)),
    h('div', { class: 'scroll' }, table('Accounts per realm', ['realm', 'accounts'], Object.entries(info.accounts).map(([realm, count]) => ({ cells: [realm, count] })))),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Public passwords to fix'),
      info.publicCredentials.length === 0
        ? h('p', { class: 'msg ok' }, info.publicPasswordScan?.state === 'running' ? `None so far (checked ${info.publicPasswordScan.checked} of ${info.publicPasswordScan.total}).` : 'None: no account uses a published password.')
        : h('ul', { class: 'problems' }, info.publicCredentials.map((c) => h('li', {}, `${c.account} (${c.realm}, ${c.listener} listener): its password is public; salt a new one.`))),
    ),
    info.acme && acmeCard(info.acme),
    info.upstream &&
      h('section', { class: 'card' }, h('h2', {}, 'Upstream'), h('p', {}, `${info.upstream.url}: `, info.upstream.reachable === null ? 'not reached yet' : info.upstream.reachable ? `reachable${info.upstream.latencyMs === undefined ? '' : ` (${info.upstream.latencyMs} ms)`}` : `unreachable${info.upstream.lastError ? `: ${info.upstream.lastError.message}` : ''}`)),
  ];
}

export function statusPage(): Page {
  const live = h('p', { class: 'muted', id: 'live' }, 'Connecting…');
  const body = h('div', { id: 'status-body' });
  const panel = h('section', {}, h('h2', { class: 'visually-hidden' }, 'Status'), live, body);
  let visible = false;
  let started = false;
  let pending: Promise<void> | undefined;
  let again = false;

  // One fetch at a time; a change seen during one is fetched again once it is done.
  const refresh = async (): Promise<void> => {
    if (pending) {
      again = true;
      return;
    }
    pending = api<Info>('GET', '/info').then(
      (info) => fill(body, render(info)),
      (error: unknown) => message(body, errorText(error), 'error'),
    );
    await pending;
    pending = undefined;
    if (again) {
      again = false;
      await refresh();
    }
  };

  // Live: GET /events says when the state changed; if it cannot be followed, poll every 5 s.
  const follow = (): void => {
    started = true;
    let events: EventSource | undefined = new EventSource('/events');
    events.addEventListener('state', () => void refresh());
    events.addEventListener('open', () => (live.textContent = 'Live: follows GET /events.'));
    events.addEventListener('error', () => {
      if (events?.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      events = undefined;
      live.textContent = 'Polling GET /info every 5 s (GET /events is not available).';
      setInterval(() => void (visible && refresh()), 5000);
    });
  };

  return {
    id: 'status',
    title: 'Status',
    panel,
    show: () => {
      visible = true;
      if (!started) follow();
      void refresh();
    },
    hide: () => (visible = false),
  };
}
