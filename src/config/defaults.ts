import type { JsonObject } from './json.js';

/** keepd's built-in configuration: the first layer, below every file and the environment. */
export function builtInDefaults(): JsonObject {
  return {
    PORT: 8880,
    HEALTHCHECKPORT: 8886,
    MANAGMENTPORT: 8889,
    METRICSPORT: 8890,
    LOG_LEVEL: 'info',
    drainTimeoutSeconds: 10,
    strict: false,
    loginRateLimit: { enabled: true, maxFailures: 10, windowSeconds: 60, exemptLoopback: false },
    passwordVerification: { concurrency: 4, queueLimit: 200 },
    limits: {
      handshakeTimeoutMs: 10_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 10_000,
      maxHeaderBytes: 16_384,
      maxBodyBytes: 16_384,
      maxConnections: 1024,
    },
    identity: {
      healthcheckAPI: {},
      managementAPI: {},
      metricsAPI: {},
      singleDbModeUsers: {},
    },
  };
}
