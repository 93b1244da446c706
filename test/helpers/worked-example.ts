import type { JsonObject } from '../../src/config/json.js';

/** The worked merge example of product.md, verbatim: defaults, a.json, then PORT=8564. */
export const WORKED_EXAMPLE = {
  productDefaults: {
    PORT: 8880,
    AllowJwtMail: true,
    versions: { basis: { path: '/schema/openapi.basis.json', active: true } },
  } satisfies JsonObject,
  aJson: {
    dance: 'tango',
    PORT: 1234,
    versions: { basis: { active: false }, special: { path: '/schema/openapi.special.json', active: true } },
  } satisfies JsonObject,
  env: { PORT: '8564' },
  expected: {
    PORT: 8564,
    AllowJwtMail: true,
    dance: 'tango',
    versions: {
      basis: { path: '/schema/openapi.basis.json', active: false },
      special: { path: '/schema/openapi.special.json', active: true },
    },
  } satisfies JsonObject,
};
