/**
 * The management console: one page, tabs, vanilla DOM (no framework: seven small pages of forms
 * and tables do not need one, and the console must stay small and self-contained under a strict
 * Content-Security-Policy). Every action calls the management routes a script would.
 */
import { onUnauthorized } from './api.js';
import { fill, h, type Page } from './dom.js';
import { homePage } from './home.js';
import { logsPage } from './logs.js';
import { configPage, sourcesPage, supportPage, throttledPage } from './pages.js';
import { statusPage } from './status.js';

const banner = h('div', { id: 'banner', 'aria-live': 'assertive' });
onUnauthorized(() => {
  fill(banner, h('p', { class: 'msg error', role: 'alert' }, 'keepd no longer accepts your login (the management credentials may have changed). Reload the page to log in again.'));
});

const pages: Page[] = [homePage(), statusPage(), configPage(), sourcesPage(), throttledPage(), logsPage(), supportPage()];
let current: Page | undefined;

const tabs = pages.map((page) =>
  h('button', { type: 'button', role: 'tab', id: `tab-${page.id}`, 'aria-controls': `panel-${page.id}`, 'aria-selected': 'false', tabindex: '-1', onclick: () => select(page, true) }, page.title),
);

function select(page: Page, focus: boolean): void {
  if (current === page) return;
  current?.hide?.();
  current = page;
  pages.forEach((other, index) => {
    const selected = other === page;
    const tab = tabs[index];
    tab?.setAttribute('aria-selected', String(selected));
    tab?.setAttribute('tabindex', selected ? '0' : '-1');
    if (selected && focus) tab?.focus();
    other.panel.hidden = !selected;
  });
  if (location.hash !== `#${page.id}`) history.replaceState(null, '', `#${page.id}`);
  page.show();
}

const tablist = h('nav', { role: 'tablist', 'aria-label': 'Console pages' }, tabs);
// Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern).
tablist.addEventListener('keydown', (event) => {
  const index = pages.findIndex((page) => page === current);
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: pages.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  const page = pages[(next + pages.length) % pages.length];
  if (page) select(page, true);
});

for (const page of pages) {
  page.panel.id = `panel-${page.id}`;
  page.panel.setAttribute('role', 'tabpanel');
  page.panel.setAttribute('aria-labelledby', `tab-${page.id}`);
  page.panel.hidden = true;
}

document.body.append(h('header', {}, h('h1', {}, 'keepd management'), tablist), banner, h('main', {}, pages.map((page) => page.panel)));

const fromHash = (): Page => pages.find((page) => `#${page.id}` === location.hash) ?? (pages[0] as Page);
window.addEventListener('hashchange', () => select(fromHash(), false));
select(fromHash(), false);
