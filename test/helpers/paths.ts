import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests run from dist/test; the repository root is two levels above this file's folder. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The bundle users run (see scripts/bundle.ts), so the tests cover what ships: the one of this build. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'keepd.mjs');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
