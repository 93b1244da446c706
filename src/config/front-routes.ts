import { isLoopbackAddress, reachesListener } from './addresses.js';
import { REALM_LISTENERS, type RealmListener } from './listener-table.js';
import type { ListenerSettings } from './listener-settings.js';
import type { KeepConfig } from './schema.js';

/*
 * The front listener's routes (docs/front.md), as pure decisions: which route serves a request,
 * and what in a configuration of routes is wrong or worth a warning.
 */

export type RouteTarget = { kind: 'listener'; name: RealmListener } | { kind: 'upstream'; origin: string };

export interface FrontRoute {
  /** Its place in listeners.front.routes, for messages and metrics. */
  index: number;
  /** Lower case, no root dot; `*.example.com` matches one label. undefined: any host. */
  host: string | undefined;
  /** No trailing slash (but `/` itself); undefined: any path. */
  path: string | undefined;
  target: RouteTarget;
}

/** A route problem or warning: the path of the key and one sentence. */
export interface RouteNote {
  path: (string | number)[];
  message: string;
}

const normalHost = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export function resolveFrontRoutes(config: KeepConfig): FrontRoute[] {
  return config.listeners.front.routes.map((route, index) => ({
    index,
    host: route.host === undefined ? undefined : normalHost(route.host),
    path: route.path === undefined || route.path === '/' ? undefined : route.path.replace(/\/+$/, '') || undefined,
    target: isTargetListener(route.to) ? { kind: 'listener', name: route.to } : { kind: 'upstream', origin: new URL(route.to).origin },
  }));
}

function isTargetListener(to: string): to is RealmListener {
  return (REALM_LISTENERS as readonly string[]).includes(to);
}

// Labels of letters, digits, hyphens (and underscores, which some internal names have).
const LABELS = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * The host a request names (HTTP/1.1 `Host`, HTTP/2 `:authority`) without its port, in lower
 * case and without a root dot; '' when it names none; undefined when it is no host name, IPv4 or
 * bracketed IPv6 address (`evil/x.example.com`: it must neither match a wildcard route nor reach
 * an upstream, which would build URLs from it).
 */
export function requestHost(authority: string | undefined): string | undefined {
  if (authority === undefined || authority === '') return '';
  const parts = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{0,5})?$/i.exec(authority);
  if (!parts) return undefined;
  const host = normalHost(parts[1] ?? '');
  return host.startsWith('[') || LABELS.test(host) ? host : undefined;
}

/** `*.example.com` matches exactly one label below example.com, as a certificate's wildcard does. */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

/** `/api` matches `/api`, `/api/...` and `/api?...`, never `/apis`. */
export function pathMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/** The first route whose host and path match; undefined: none (the front answers 404). */
export function matchRoute(routes: readonly FrontRoute[], host: string, target: string): FrontRoute | undefined {
  return routes.find((route) => (route.host === undefined || hostMatches(route.host, host)) && (route.path === undefined || pathMatches(route.path, target)));
}

const FRONT = ['listeners', 'front'];

/**
 * What stops a front listener from serving its routes: none at all, a route to a listener that
 * is off, a route to its own port. Only when the front listener is enabled.
 */
export function frontProblems(front: ListenerSettings, routes: readonly FrontRoute[], listeners: Readonly<Record<RealmListener, ListenerSettings>>, localAddresses: readonly string[] = []): RouteNote[] {
  if (!front.enabled) return [];
  if (routes.length === 0) return [{ path: [...FRONT, 'routes'], message: 'is empty: the front listener would answer every request with 404. Add routes such as {"path": "/api", "to": "data"} (keepconfig.d/front-by-path.json.example)' }];
  const out: RouteNote[] = [];
  for (const route of routes) {
    const at = [...FRONT, 'routes', route.index, 'to'];
    if (route.target.kind === 'listener' && !listeners[route.target.name].enabled) {
      const name = route.target.name;
      const how = name === 'metrics' ? 'set metrics.enabled (and listeners.metrics.enabled) to true' : `remove listeners.${name}.enabled: false`;
      out.push({ path: at, message: `routes to the ${name} listener, which is off: ${how} (its own port can stay private with listeners.${name}.HOST "127.0.0.1"), or remove the route` });
    }
    if (route.target.kind === 'upstream' && reachesListener(new URL(route.target.origin), front.port, front.host, localAddresses)) {
      out.push({ path: at, message: `points at the front listener's own port ${front.port}: every request would come back to it` });
    }
  }
  return out;
}



/** What an admin should know: the management listener on the front port, plain http upstreams elsewhere, unreachable routes. */
export function frontWarnings(front: ListenerSettings, routes: readonly FrontRoute[]): string[] {
  if (!front.enabled) return [];
  const out: string[] = [];
  const exposed = front.host === undefined || !isLoopbackAddress(front.host);
  for (const route of routes) {
    const where = `listeners.front.routes[${route.index}]`;
    if (route.target.kind === 'listener' && route.target.name === 'management' && exposed) {
      out.push(`${where} puts the management listener (reload, shutdown, configuration) on the front port ${front.port} of ${front.host ?? 'all interfaces'}: anyone who reaches that port can try its accounts (a "host" on the route does not stop them: clients choose the Host they send). The product recommends localhost only: remove the route, or bind the front listener to a private address`);
    }
    if (route.target.kind === 'upstream' && route.target.origin.startsWith('http:') && !isLoopbackAddress(new URL(route.target.origin).hostname.replace(/^\[|\]$/g, ''))) {
      out.push(`${where} sends requests to ${route.target.origin} in plain http: passwords and tokens cross the network in clear; use https, or a server on this host`);
    }
    const earlier = routes.find((other) => other.index < route.index && covers(other, route));
    if (earlier) out.push(`${where} is never used: listeners.front.routes[${earlier.index}] before it matches everything it would`);
  }
  return out;
}

/** Does route `a` match every request route `b` matches? */
function covers(a: FrontRoute, b: FrontRoute): boolean {
  const hostCovered = a.host === undefined || (b.host !== undefined && (a.host === b.host || (!b.host.startsWith('*.') && hostMatches(a.host, b.host))));
  const pathCovered = a.path === undefined || (b.path !== undefined && pathMatches(a.path, b.path));
  return hostCovered && pathCovered;
}
