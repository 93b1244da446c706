import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../src/config/schema.js';
import { REPO_ROOT } from './helpers/paths.js';

const shipped = path.join(REPO_ROOT, 'keepconfig.d');

describe('the shipped keepconfig.d', () => {
  it('holds only examples (not loaded) and a README', () => {
    for (const name of readdirSync(shipped)) {
      if (name.startsWith('.') || name.includes('first-run')) continue; // a developer's own first run
      assert.ok(name === 'README.md' || name.endsWith('.json.example'), name);
    }
  });

  it('examples are valid JSON using only keys keepd knows, and hold no secret', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const name of readdirSync(shipped).filter((n) => n.endsWith('.json.example'))) {
      const text = readFileSync(path.join(shipped, name), 'utf8');
      const data = JSON.parse(text) as Record<string, unknown>;
      for (const key of Object.keys(data)) assert.ok(known.has(key), `${name}: ${key}`);
      assert.doesNotMatch(text, /[0-9A-F]{64}:[0-9A-F]{128}/i, `${name} holds a salted secret`);
    }
  });
});
