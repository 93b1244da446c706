import { api, errorText, send } from './api.js';
import { field, fill, h, message, type Page } from './dom.js';

type Outcome = { status: 'applied'; generation: number; changes: string[]; errors: string[] } | { status: 'unchanged'; generation: number } | { status: 'rejected'; generation: number; problems: string[] };

function section(title: string, id: string, ...content: Node[]): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

function salt(): HTMLElement {
  const password = field('salt-password', 'Password', { type: 'password', required: true });
  const secret = field('salt-secret', 'Salted secret', { readonly: true });
  const out = h('div', { class: 'out' });
  const copy = h('button', { type: 'button', disabled: true, onclick: () => void copySecret() }, 'Copy');
  const form = h('form', {}, password.wrap, h('button', { type: 'submit' }, 'Salt'), secret.wrap, copy, out);
  async function copySecret(): Promise<void> {
    try {
      await navigator.clipboard.writeText(secret.input.value);
      message(out, 'Copied to the clipboard.', 'ok');
    } catch (error) {
      secret.input.select();
      message(out, `Could not copy (${errorText(error)}): the secret is selected, copy it with the keyboard.`, 'error');
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message(out, 'Salting…');
    api<{ secret: string }>('POST', '/encode', { shutdownkey: password.input.value }).then(
      (answer) => {
        secret.input.value = answer.secret;
        copy.disabled = false;
        message(out, 'Salted: use this secret in the configuration in place of the password.', 'ok');
      },
      (error: unknown) => message(out, errorText(error), 'error'),
    );
  });
  return section('Salt', 'h-salt', h('p', {}, 'Turn a password into a salted secret (POST /encode).'), form);
}

function desalinate(): HTMLElement {
  const secret = field('decode-secret', 'Salted secret (HASH:SALT)', { required: true, spellcheck: 'false' });
  const guess = field('decode-guess', 'Password to check', { type: 'password', required: true });
  const out = h('div', { class: 'out' });
  const form = h('form', {}, secret.wrap, guess.wrap, h('button', { type: 'submit' }, 'Check'), out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message(out, 'Checking…');
    api<{ match: boolean }>('POST', '/decode', { shutdownkey: secret.input.value, guess: guess.input.value }).then(
      (answer) => message(out, answer.match ? 'Match: the password opens this secret.' : 'No match.', answer.match ? 'ok' : 'error'),
      (error: unknown) => message(out, errorText(error), 'error'),
    );
  });
  return section('Desalinate', 'h-decode', h('p', {}, 'Check a password against a salted secret (POST /decode).'), form);
}

function reload(): HTMLElement {
  const out = h('div', { class: 'out', id: 'reload-out' });
  const button = h('button', { type: 'button', onclick: () => void run() }, 'Reload configuration');
  async function run(): Promise<void> {
    message(out, 'Reloading…');
    try {
      const { status, json, text } = await send('POST', '/reload');
      const outcome = json as Outcome | undefined;
      if (!outcome || (status !== 200 && status !== 422)) throw new Error(`POST /reload: ${status} ${text.slice(0, 200)}`);
      if (outcome.status === 'unchanged') message(out, `Unchanged: nothing differs from generation ${outcome.generation}.`, 'ok');
      else if (outcome.status === 'applied') {
        fill(out, h('p', { class: 'msg ok', role: 'status' }, `Applied: generation ${outcome.generation}.`), h('ul', {}, outcome.changes.map((c) => h('li', {}, c))), outcome.errors.length > 0 && h('ul', { class: 'problems' }, outcome.errors.map((e) => h('li', {}, e))));
      } else {
        fill(out, h('p', { class: 'msg error', role: 'alert' }, `Refused: still serving generation ${outcome.generation}.`), h('ul', { class: 'problems' }, outcome.problems.map((p) => h('li', {}, p))));
      }
    } catch (error) {
      message(out, errorText(error), 'error');
    }
  }
  return section('Reload', 'h-reload', h('p', {}, 'Re-read the configuration directory now (POST /reload).'), button, out);
}

function shutdown(): HTMLElement {
  const out = h('div', { class: 'out' });
  const key = field('shutdown-key', 'Shutdown key', { type: 'password' });
  const dialog = h('dialog', { 'aria-labelledby': 'shutdown-title' });
  const confirm = h('button', { type: 'submit', class: 'danger' }, 'Stop keepd');
  const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
  const form = h('form', {}, h('h3', { id: 'shutdown-title' }, 'Stop keepd?'), h('p', {}, 'Every listener stops once its requests have drained; this console stops working too.'), key.wrap, h('div', { class: 'row' }, cancel, confirm));
  dialog.append(form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    dialog.close();
    message(out, 'Stopping…');
    const body = key.wrap.hidden ? undefined : { shutdownkey: key.input.value };
    api<{ drainTimeoutSeconds: number }>('POST', '/shutdown', body).then(
      (answer) => message(out, `keepd is stopping (drains for up to ${answer.drainTimeoutSeconds} s).`, 'ok'),
      (error: unknown) => message(out, errorText(error), 'error'),
    );
  });
  const open = async (): Promise<void> => {
    // The key field only when one is configured (the masked configuration says so).
    try {
      const config = await api<{ shutdownkey?: unknown }>('GET', '/config');
      key.wrap.hidden = config.shutdownkey === undefined;
    } catch {
      key.wrap.hidden = false;
    }
    key.input.value = '';
    dialog.showModal();
    (key.wrap.hidden ? cancel : key.input).focus();
  };
  return section('Shutdown', 'h-shutdown', h('p', {}, 'Stop the daemon gracefully (POST /shutdown).'), h('button', { type: 'button', class: 'danger', onclick: () => void open() }, 'Shut down…'), dialog, out);
}

export function homePage(): Page {
  const panel = h('section', { class: 'grid' }, salt(), desalinate(), reload(), shutdown());
  return { id: 'home', title: 'Home', panel, show: () => undefined };
}
