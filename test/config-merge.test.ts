import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../src/config/json.js';
import { mergeLayers, sourcesAt } from '../src/config/merge.js';
import { listSources } from '../src/config/provenance.js';
import { WORKED_EXAMPLE } from './helpers/worked-example.js';

const { productDefaults, aJson, expected } = WORKED_EXAMPLE;

describe('merging layers', () => {
  it('reproduces the worked example of the product docs exactly', () => {
    const { config } = mergeLayers([
      { source: 'default', data: productDefaults },
      { source: 'a.json', data: aJson },
      { source: 'env', data: { PORT: 8564 }, keySources: { PORT: 'env:PORT' } },
    ]);
    assert.deepEqual(config, expected);
  });

  it('records which layer set every leaf', () => {
    const { config, sources } = mergeLayers([
      { source: 'default', data: productDefaults },
      { source: 'a.json', data: aJson },
      { source: 'env', data: { PORT: 8564 }, keySources: { PORT: 'env:PORT' } },
    ]);
    assert.deepEqual(sources, {
      PORT: 'env:PORT',
      AllowJwtMail: 'default',
      dance: 'a.json',
      versions: {
        basis: { path: 'default', active: 'a.json' },
        special: { path: 'a.json', active: 'a.json' },
      },
    });
    const listed = listSources(config, sources);
    assert.deepEqual(listed['versions.basis.path'], { value: '/schema/openapi.basis.json', source: 'default' });
    assert.deepEqual(listed.PORT, { value: 8564, source: 'env:PORT' });
    assert.deepEqual(sourcesAt(sources, ['versions', 'special']), ['a.json']);
    assert.deepEqual(sourcesAt(sources, ['versions', 'basis', 'missing']).sort(), ['a.json', 'default']);
    assert.deepEqual(sourcesAt(sources, ['nothing']), []);
  });

  it('replaces arrays and scalars whole, and lets types change', () => {
    const { config, sources } = mergeLayers([
      { source: 'one', data: { list: [1, 2, 3], obj: { a: 1 }, scalar: { b: 2 } } },
      { source: 'two', data: { list: [9], obj: 'now a string', scalar: 5 } },
      { source: 'three', data: { obj: { c: 3 } } },
    ]);
    assert.deepEqual(config, { list: [9], obj: { c: 3 }, scalar: 5 });
    assert.deepEqual(sources, { list: 'two', obj: { c: 'three' }, scalar: 'two' });
  });

  it('never deletes: a later layer without a key leaves it, null replaces it', () => {
    const { config } = mergeLayers([
      { source: 'one', data: { keep: { a: 1, b: 2 }, gone: 1 } },
      { source: 'two', data: { keep: {}, gone: null } },
    ]);
    assert.deepEqual(config, { keep: { a: 1, b: 2 }, gone: null });
  });

  it('does not modify its inputs', () => {
    const first: JsonObject = { a: { b: [1] } };
    const second: JsonObject = { a: { c: 2 } };
    const snapshot = JSON.stringify([first, second]);
    const { config } = mergeLayers([{ source: '1', data: first }, { source: '2', data: second }]);
    (config.a as JsonObject).b = 'changed';
    assert.equal(JSON.stringify([first, second]), snapshot);
  });

  it('keeps a "__proto__" key as data without touching prototypes', () => {
    const layer = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as JsonObject;
    const { config } = mergeLayers([{ source: 'evil.json', data: layer }, { source: 'x', data: JSON.parse('{"__proto__": {"more": 1}}') as JsonObject }]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(config), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(config)), JSON.parse('{"__proto__": {"polluted": true, "more": 1}, "ok": 1}'));
  });
});
