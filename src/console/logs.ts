import { api, errorText } from './api.js';
import { fill, h, message, type Page } from './dom.js';

/** At most this many lines stay in the page; the oldest go first. */
const MAX_LINES = 500;
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
type Line = Record<string, unknown> & { level?: number; time?: number | string; msg?: string };

function lineElement(line: Line): HTMLElement {
  const { level, time, msg, ...rest } = line;
  // The process and host are the same on every line.
  delete rest.pid;
  delete rest.hostname;
  const name = typeof level === 'number' ? (LEVELS[level] ?? String(level)) : '?';
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return h('li', { class: `log ${name}` }, h('time', {}, time === undefined ? '' : new Date(time).toISOString().slice(11, 23)), ' ', h('span', { class: 'level' }, name), ' ', h('span', { class: 'text' }, `${typeof msg === 'string' ? msg : ''}${extra}`));
}

export function logsPage(): Page {
  const select = h('select', { id: 'log-level' }, ['trace', 'debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l, selected: l === 'info' }, l)));
  const state = h('p', { class: 'muted', id: 'log-state', 'aria-live': 'polite' });
  const list = h('ol', { class: 'logs', id: 'log-lines', 'aria-label': 'log lines' });
  const out = h('div', { class: 'out' });
  let stream: EventSource | undefined;
  let after = 0;

  const add = (line: Line): void => {
    list.append(lineElement(line));
    while (list.childElementCount > MAX_LINES) list.firstElementChild?.remove();
  };
  const stop = (): void => {
    stream?.close();
    stream = undefined;
  };
  const start = async (): Promise<void> => {
    stop();
    fill(out);
    const level = select.value;
    try {
      const { lines, lastId } = await api<{ lines: Line[]; lastId: number }>('GET', `/log?level=${encodeURIComponent(level)}&limit=200`);
      list.replaceChildren();
      lines.forEach(add);
      after = lastId;
    } catch (error) {
      message(out, errorText(error), 'error');
      return;
    }
    // From the line after those shown: each line once (a reconnect sends Last-Event-ID instead).
    const events = new EventSource(`/log/stream?level=${encodeURIComponent(level)}&after=${after}`);
    stream = events;
    state.textContent = `Following GET /log/stream at ${level} and above (the last ${MAX_LINES} lines stay).`;
    events.addEventListener('log', (event) => {
      try {
        add(JSON.parse((event as MessageEvent<string>).data) as Line);
      } catch {
        add({ msg: (event as MessageEvent<string>).data });
      }
    });
    events.addEventListener('error', () => {
      if (events.readyState === EventSource.CLOSED) state.textContent = 'Not following: GET /log/stream closed. Press Refresh to load again.';
    });
  };
  select.addEventListener('change', () => void start());
  const panel = h(
    'section',
    {},
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'log-level' }, 'Level'), select), h('button', { type: 'button', onclick: () => void start() }, 'Refresh'), h('button', { type: 'button', onclick: () => list.replaceChildren() }, 'Clear')),
    state,
    out,
    list,
  );
  return { id: 'logs', title: 'Logs', panel, show: () => void start(), hide: stop };
}
