import type { ListenerSettings } from '../config/listener-settings.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';

/** One listener, ready to bind: its settings and, for TLS, validated material. */
export interface PreparedListener {
  settings: ListenerSettings;
  /** Validated TLS material; undefined for a plain-http listener. */
  tls: TlsMaterial | undefined;
}
