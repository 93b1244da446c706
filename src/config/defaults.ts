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
    identity: {
      healthcheckAPI: {},
      managementAPI: {},
      metricsAPI: {},
      singleDbModeUsers: {},
    },
  };
}
