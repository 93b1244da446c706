import type { ListenerSettings } from '../config/listener-settings.js';
import type { TlsMaterial } from '../tls/load-tls-material.js';

/** One more certificate (SNI): validated material and the names it is presented for. */
export interface SniMaterial {
  material: TlsMaterial;
  /** Lower case; `*.example.com` matches one label. */
  hostnames: string[];
}

/** One listener, ready to bind: its settings and, for TLS, validated material. */
export interface PreparedListener {
  settings: ListenerSettings;
  /** Validated TLS material; undefined for a plain-http listener. */
  tls: TlsMaterial | undefined;
  /** More certificates, picked by the name a client asks for (SNI); the main one serves the rest. */
  sni: SniMaterial[];
}
