/**
 * The listener table: every fact about the four listeners that more than one place needs (port
 * key and default port, realm, the route a probe or first-run command calls). Everything else
 * (defaults, schema rules, settings, first run, public-password report) is derived from it.
 */
export const REALMS = ['healthcheckAPI', 'managementAPI', 'metricsAPI', 'singleDbModeUsers'] as const;
export type Realm = (typeof REALMS)[number];

/** The product's four listeners, each with its port key and realm. */
export const REALM_LISTENERS = ['data', 'health', 'management', 'metrics'] as const;
export type RealmListener = (typeof REALM_LISTENERS)[number];

/**
 * Every listener keepd runs: the product's four, and keepd's front listener (`listeners.front`,
 * off by default), one port that routes to the others by path and host name. It has no realm of
 * its own: each route is served with the realm of the listener it names.
 */
export const LISTENER_NAMES = [...REALM_LISTENERS, 'front'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/** The front listener's port when `listeners.front.port` is not set: HTTPS's own. */
export const FRONT_DEFAULT_PORT = 443;

export interface ListenerFacts {
  /** The product's key for the port (MANAGMENTPORT is spelled so in the product). */
  readonly portKey: 'PORT' | 'HEALTHCHECKPORT' | 'MANAGMENTPORT' | 'METRICSPORT';
  readonly defaultPort: number;
  /** The `identity` section whose accounts may log in. */
  readonly realm: Realm;
  /** A GET route any account of the realm may call: first-run commands, fault matrix, probes. */
  readonly probe: string;
}

export const LISTENERS = {
  data: { portKey: 'PORT', defaultPort: 8880, realm: 'singleDbModeUsers', probe: '/api/whoami' },
  health: { portKey: 'HEALTHCHECKPORT', defaultPort: 8886, realm: 'healthcheckAPI', probe: '/health' },
  management: { portKey: 'MANAGMENTPORT', defaultPort: 8889, realm: 'managementAPI', probe: '/info' },
  metrics: { portKey: 'METRICSPORT', defaultPort: 8890, realm: 'metricsAPI', probe: '/metrics' },
} as const satisfies Record<RealmListener, ListenerFacts>;

/** A record with one entry per listener, built without casts. */
export function perListener<T>(make: (name: ListenerName) => T): Record<ListenerName, T> {
  return { data: make('data'), health: make('health'), management: make('management'), metrics: make('metrics'), front: make('front') };
}

/** A record with one entry per listener of the product's four. */
export function perRealmListener<T>(make: (name: RealmListener) => T): Record<RealmListener, T> {
  return { data: make('data'), health: make('health'), management: make('management'), metrics: make('metrics') };
}

export function isRealmListener(name: ListenerName): name is RealmListener {
  return name !== 'front';
}
