import { api, errorText, send } from './api.js';
import { field, fill, h, message, table, type Page } from './dom.js';

/** A page that loads on each visit, with a Refresh button. */
function loadingPage(id: string, title: string, intro: string, load: (body: HTMLElement) => Promise<void>): Page {
  const body = h('div', { id: `${id}-body` });
  const run = (): void => {
    load(body).catch((error: unknown) => message(body, errorText(error), 'error'));
  };
  const panel = h('section', {}, h('div', { class: 'row' }, h('p', { class: 'muted' }, intro), h('button', { type: 'button', onclick: run }, 'Refresh')), body);
  return { id, title, panel, show: run };
}

export function configPage(): Page {
  return loadingPage('config', 'Config', 'The configuration in use, secrets masked (GET /config).', async (body) => {
    const config = await api<unknown>('GET', '/config');
    fill(body, h('pre', { class: 'json', tabindex: '0', 'aria-label': 'configuration' }, JSON.stringify(config, null, 2)));
  });
}

interface Entry {
  key: string;
  value: unknown;
  source: string;
}

export function sourcesPage(): Page {
  const filter = field('sources-filter', 'Filter', { type: 'search', placeholder: 'key, value or source' });
  const list = h('div', { class: 'scroll' });
  let entries: Entry[] = [];
  const render = (): void => {
    const needle = filter.input.value.trim().toLowerCase();
    const shown = entries.filter((e) => needle === '' || `${e.key}\n${JSON.stringify(e.value)}\n${e.source}`.toLowerCase().includes(needle));
    fill(list, table(`${shown.length} of ${entries.length} keys`, ['key', 'value', 'source'], shown.map((e) => ({ cells: [h('code', {}, e.key), JSON.stringify(e.value), e.source] }))));
  };
  filter.input.addEventListener('input', render);
  const page = loadingPage('sources', 'Config src', 'Where each key comes from (GET /config/sources).', async (body) => {
    const answer = await send('GET', '/config/sources');
    if (answer.status === 404) {
      // An older keepd: the same table from GET /config?sources.
      const map = await api<Record<string, { value: unknown; source: string }>>('GET', '/config?sources');
      entries = Object.entries(map).map(([key, e]) => ({ key, value: e.value, source: e.source }));
    } else if (answer.status === 200) entries = (answer.json as { entries: Entry[] }).entries;
    else throw new Error(`GET /config/sources: ${answer.status} ${answer.text.slice(0, 200)}`);
    fill(body, filter.wrap, list);
    render();
  });
  return page;
}

interface Client {
  listener: string;
  address: string;
  failures: number;
  blockedUntil: string | number | null;
}

export function throttledPage(): Page {
  const out = h('div', { class: 'out', id: 'throttled-out' });
  const load = async (body: HTMLElement): Promise<void> => {
    const { clients, note } = await api<{ clients: Client[]; note?: string }>('GET', '/throttled');
    const release = (client: Client): void => {
      api<{ released: boolean }>('POST', '/throttled/release', { listener: client.listener, address: client.address }).then(
        () => {
          message(out, `Released ${client.address} on the ${client.listener} listener.`, 'ok');
          load(body).catch((error: unknown) => message(out, errorText(error), 'error'));
        },
        (error: unknown) => message(out, errorText(error), 'error'),
      );
    };
    const until = (value: Client['blockedUntil']): string => (value === null ? '–' : new Date(value).toLocaleString());
    fill(
      body,
      out,
      note !== undefined && h('div', { class: 'msg error', role: 'alert' }, `Partial list: ${note}.`),
      h('div', { class: 'scroll' }, table('Clients refused after failed logins', ['listener', 'address', 'failures', 'blocked until', ''], clients.map((c) => ({ cells: [c.listener, c.address, c.failures, until(c.blockedUntil), h('button', { type: 'button', 'aria-label': `Release ${c.address} on ${c.listener}`, onclick: () => release(c) }, 'Release')] })))),
    );
  };
  return loadingPage('throttled', 'Throttled clients', 'Client addresses the login throttle refuses (GET /throttled).', load);
}

export function supportPage(): Page {
  const panel = h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Support package'),
    h('p', {}, 'A .tar.gz of what support asks for: the configuration (masked), its sources, the runtime information and recent log lines. It holds no secret.'),
    h('a', { class: 'button', href: '/support', download: 'keepd-support.tar.gz', id: 'support-download' }, 'Download support package'),
  );
  return { id: 'support', title: 'Support', panel, show: () => undefined };
}
