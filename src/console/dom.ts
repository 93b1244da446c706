/** A tiny element builder: the console's whole "framework". */

/** One tab of the console. */
export interface Page {
  id: string;
  title: string;
  panel: HTMLElement;
  /** Called each time the tab is shown. */
  show(): void;
  /** Called when another tab is shown. */
  hide?(): void;
}

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  append(element, children.flat());
  return element;
}

export function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Replaces an element's content. */
export function fill(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children.flat());
}

/** A table: header cells, then rows of cells (a row may carry a class). */
export function table(caption: string, headers: string[], rows: { cells: Child[]; className?: string }[]): HTMLTableElement {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, rows.length === 0 ? h('tr', {}, h('td', { colspan: headers.length }, 'none')) : rows.map((row) => h('tr', { class: row.className }, row.cells.map((cell) => h('td', {}, cell))))),
  );
}

/** A labelled input: the label's `for` names the input. */
export function field(id: string, label: string, attrs: Attrs = {}): { wrap: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { id, name: id, autocomplete: 'off', ...attrs });
  return { wrap: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

/** A message area: role=status for outcomes, role=alert for errors. */
export function message(target: Element, text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  fill(target, h('p', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text));
}
