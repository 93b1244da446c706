import type { Realm } from './schema.js';

/** The four listeners, their port keys (product names) and the realm whose accounts may log in. */
export const LISTENER_NAMES = ['data', 'health', 'management', 'metrics'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

export const PORT_KEY = {
  data: 'PORT',
  health: 'HEALTHCHECKPORT',
  management: 'MANAGMENTPORT',
  metrics: 'METRICSPORT',
} as const satisfies Record<ListenerName, string>;

export const REALM_OF = {
  data: 'singleDbModeUsers',
  health: 'healthcheckAPI',
  management: 'managementAPI',
  metrics: 'metricsAPI',
} as const satisfies Record<ListenerName, Realm>;

/** A record with one entry per listener, built without casts. */
export function perListener<T>(make: (name: ListenerName) => T): Record<ListenerName, T> {
  return { data: make('data'), health: make('health'), management: make('management'), metrics: make('metrics') };
}
