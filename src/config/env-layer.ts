import { setOwn, type Json, type JsonObject } from './json.js';
import type { Layer } from './merge.js';
import type { ConfigProblem } from './problems.js';

/** Environment variables that override a configuration key of the same name. */
export const ENV_PORT_KEYS = ['PORT', 'HEALTHCHECKPORT', 'MANAGMENTPORT', 'MANAGEMENTPORT', 'ADMINPORT', 'METRICSPORT'] as const;
export const ENV_STRING_KEYS = ['HOST', 'TLSFile', 'TLSPassword', 'TLSType', 'PEMCert', 'LOG_LEVEL'] as const;
export const HEALTHCHECK_USER = 'HEALTHCHECK_USER';
export const HEALTHCHECK_PASSWORD = 'HEALTHCHECK_PASSWORD';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface EnvironmentReading {
  layer: Layer;
  problems: ConfigProblem[];
  /** A health account handed over by the platform (e.g. a Kubernetes Secret), still in plain text. */
  healthcheck?: { user: string; password: string };
}

/** Ports arrive as text; digits become a number, anything else stays text for the schema to reject. */
function portValue(raw: string): Json {
  const trimmed = raw.trim();
  return /^\d{1,6}$/.test(trimmed) ? Number(trimmed) : raw;
}

/** The environment as the last configuration layer (see product.md). Pure: reads only `env`. */
export function readEnvironment(env: Environment): EnvironmentReading {
  const data: JsonObject = {};
  const keySources: Record<string, string> = {};
  for (const key of ENV_PORT_KEYS) {
    const raw = env[key];
    if (raw === undefined) continue;
    setOwn(data, key, portValue(raw));
    keySources[key] = `env:${key}`;
  }
  for (const key of ENV_STRING_KEYS) {
    const raw = env[key];
    if (raw === undefined) continue;
    setOwn(data, key, raw);
    keySources[key] = `env:${key}`;
  }

  const problems: ConfigProblem[] = [];
  const user = env[HEALTHCHECK_USER];
  const password = env[HEALTHCHECK_PASSWORD];
  let healthcheck: EnvironmentReading['healthcheck'];
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) {
      const missing = user === undefined ? HEALTHCHECK_USER : HEALTHCHECK_PASSWORD;
      const present = user === undefined ? HEALTHCHECK_PASSWORD : HEALTHCHECK_USER;
      problems.push({ source: `env:${present}`, message: `${present} is set but ${missing} is not; set both or neither` });
    } else if (user === '' || password === '') {
      const empty = user === '' ? HEALTHCHECK_USER : HEALTHCHECK_PASSWORD;
      problems.push({ source: `env:${empty}`, message: `${empty} is empty; set a value or unset both variables` });
    } else {
      healthcheck = { user, password };
    }
  }
  const reading: EnvironmentReading = { layer: { source: 'env', data, keySources }, problems };
  if (healthcheck) reading.healthcheck = healthcheck;
  return reading;
}

/** The layer that adds the platform's health account, with its password already salted. */
export function healthcheckLayer(user: string, secret: string): Layer {
  const accounts: JsonObject = {};
  setOwn(accounts, user, { active: true, secret });
  return {
    source: `env:${HEALTHCHECK_USER}`,
    data: { identity: { healthcheckAPI: accounts } },
  };
}
