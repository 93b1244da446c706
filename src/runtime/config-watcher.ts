import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { ListenerSettings } from '../config/listener-settings.js';
import { isConfigFileName } from '../config/read-config-dir.js';

export interface WatchTargets {
  /** Directories where every change counts (the configuration directory). */
  directories: string[];
  /** Files outside them (TLS material): their directories are watched, only these names count. */
  files: string[];
}

/**
 * Does a change at `changed` concern the configuration? In a configuration directory: the files
 * keepd reads (`*.json`, not dotfiles: editors' swap and lock files churn without meaning
 * anything), Kubernetes' `..data`-style entries (a mounted ConfigMap swaps a `..data` symlink and
 * never touches the visible names), and the directory itself (deleted, renamed, recreated). In a
 * TLS file's directory: the file itself and the `..` entries.
 */
export function isRelevantChange(changed: string, targets: WatchTargets): boolean {
  const resolved = path.resolve(changed);
  const name = path.basename(resolved);
  const parent = path.dirname(resolved);
  if (targets.directories.includes(resolved) || targets.files.includes(resolved)) return true;
  if (targets.directories.includes(parent) && (isConfigFileName(name) || name.startsWith('..'))) return true;
  return name.startsWith('..') && targets.files.some((file) => path.dirname(file) === parent);
}

/** Both sets of targets (a refused configuration adds to what is watched, never removes). */
export function mergeTargets(a: WatchTargets, b: WatchTargets): WatchTargets {
  return { directories: [...new Set([...a.directories, ...b.directories])], files: [...new Set([...a.files, ...b.files])] };
}

/** The directories to watch: the targets, TLS files' directories, and the configuration directories' parents (to see them come back). */
function watchedDirectories(targets: WatchTargets): string[] {
  return [...new Set([...targets.directories, ...targets.directories.map((dir) => path.dirname(dir)), ...targets.files.map((file) => path.dirname(file))])].sort();
}

/** However busy the directory, a reload comes at most this long after the first change of a burst. */
export function maxWaitMs(debounceMs: number): number {
  return Math.max(1000, 4 * debounceMs);
}

export interface WatcherOptions {
  debounceMs: number;
  onChange: (reason: string) => void;
  log: Logger;
}

/**
 * Watches directories, never single files: editors save by renaming, Kubernetes swaps a symlinked
 * directory, certbot repoints symlinks; a watch on the file itself misses all of them. Bursts of
 * events are debounced into one call of `onChange` (capped by maxWaitMs, so a file churned
 * forever cannot postpone a reload), which re-reads everything from disk.
 */
export class ConfigWatcher {
  readonly #watcher: FSWatcher;
  #debounceMs: number;
  readonly #onChange: (reason: string) => void;
  readonly #log: Logger;
  #targets: WatchTargets;
  #watched: string[];
  #timer: NodeJS.Timeout | undefined;
  #burstStart = 0;
  readonly #pending = new Set<string>();
  #closed = false;

  private constructor(targets: WatchTargets, options: WatcherOptions) {
    this.#targets = targets;
    this.#watched = watchedDirectories(targets);
    this.#debounceMs = options.debounceMs;
    this.#onChange = options.onChange;
    this.#log = options.log;
    this.#watcher = watch(this.#watched, { ignoreInitial: true, depth: 0, persistent: true });
    this.#watcher.on('all', (event, changed) => this.#event(event, changed));
    // Raw events too: chokidar reports nothing for names it cannot stat (a symlink loop named x.json).
    this.#watcher.on('raw', (event, name, details) => {
      const at = typeof details === 'object' && details !== null && 'watchedPath' in details ? details.watchedPath : undefined;
      if (typeof at === 'string' && name !== '') this.#event(event, path.join(at, name));
    });
    this.#watcher.on('error', (error) => this.#log.warn({ err: error }, 'configuration watcher error'));
  }

  /** Resolves once the initial scan is done: changes from then on are seen. */
  static async start(targets: WatchTargets, options: WatcherOptions): Promise<ConfigWatcher> {
    const watcher = new ConfigWatcher(targets, options);
    await new Promise<void>((resolve) => watcher.#watcher.once('ready', resolve));
    watcher.#log.info({ directories: watcher.#watched }, `watching ${watcher.#watched.join(', ')} for configuration changes`);
    return watcher;
  }

  #event(event: string, changed: string): void {
    if (this.#closed || !isRelevantChange(changed, this.#targets)) return;
    const resolved = path.resolve(changed);
    if (event === 'addDir' && this.#targets.directories.includes(resolved)) {
      // The directory is back (recreated, or renamed back): watch its entries again.
      this.#watcher.unwatch(resolved);
      this.#watcher.add(resolved);
    }
    const now = Date.now();
    if (this.#pending.size === 0) this.#burstStart = now;
    this.#pending.add(`${event} ${path.basename(changed)}`);
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#burstStart + maxWaitMs(this.#debounceMs) - now));
    this.#timer = setTimeout(() => {
      const reason = [...this.#pending].join(', ');
      this.#pending.clear();
      this.#onChange(reason);
    }, wait);
  }

  get targets(): WatchTargets {
    return this.#targets;
  }

  get debounceMs(): number {
    return this.#debounceMs;
  }

  /** Follows the TLS files (and the debounce) of the configuration now in use. */
  retarget(targets: WatchTargets, debounceMs: number): void {
    this.#debounceMs = debounceMs;
    const next = watchedDirectories(targets);
    const added = next.filter((dir) => !this.#watched.includes(dir));
    const removed = this.#watched.filter((dir) => !next.includes(dir));
    this.#targets = targets;
    this.#watched = next;
    if (added.length > 0) this.#watcher.add(added);
    if (removed.length > 0) this.#watcher.unwatch(removed);
    if (added.length + removed.length > 0) this.#log.info({ directories: next }, `now watching ${next.join(', ')}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#watcher.close();
  }
}

/** What to watch for a configuration: its directory, and its TLS files wherever they are (the first run keeps them in the directory). */
export function watchTargets(configDir: string, settings: ListenerSettings[]): WatchTargets {
  const directory = path.resolve(configDir);
  const files = settings
    .filter((s) => s.enabled && s.tls)
    .flatMap((s) => [s.tls?.file, s.tls?.pemCert, ...s.sni.flatMap((entry) => [entry.file, entry.pemCert])])
    .filter((file): file is string => file !== undefined);
  return { directories: [directory], files: [...new Set(files)] };
}

/**
 * The daemon's watching: started, retargeted or stopped to match each configuration, and never
 * again once closed (a reload still under way cannot bring a watcher back after stop).
 */
export class Watching {
  #watcher: ConfigWatcher | undefined;
  #closed = false;

  constructor(private readonly options: { configDir: string; log: Logger; onChange: (reason: string) => void }) {}

  /**
   * Follows a configuration. One that is not applied (it was refused) only adds what it names,
   * so that fixing its TLS files is noticed; it cannot switch watching off or drop a directory.
   */
  async follow(settings: ListenerSettings[], watch: { enabled: boolean; debounceMs: number }, applied: boolean): Promise<void> {
    const targets = watchTargets(this.options.configDir, settings);
    if (!applied) {
      this.#watcher?.retarget(mergeTargets(this.#watcher.targets, targets), this.#watcher.debounceMs);
    } else if (!watch.enabled) {
      await this.#stop();
    } else if (this.#watcher) {
      this.#watcher.retarget(targets, watch.debounceMs);
    } else if (!this.#closed) {
      const watcher = await ConfigWatcher.start(targets, { debounceMs: watch.debounceMs, onChange: this.options.onChange, log: this.options.log });
      if (this.#isClosed()) await watcher.close(); // closed while it started
      else this.#watcher = watcher;
    }
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  async #stop(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    await watcher?.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }
}
