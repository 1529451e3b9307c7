// The committed guest binaries must be what their C sources build to (after editing a source:
// npm run build:fixtures), whatever else is installed (see helpers/rebuild.ts). Skipped where clang-14 is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { hasClang, rebuild } from '../helpers/rebuild.js';
import { fixture, tempDir } from './helpers.js';

test('every C guest compiles to its committed .wasm', { skip: hasClang ? false : 'clang-14 not installed' }, () => {
  const out = tempDir('fixtures');
  try {
    const r = rebuild('build-fixtures.sh', 'ISOLA_FIXTURES_OUT', out.path);
    assert.equal(r.status, 0, r.stderr);
    const sources = readdirSync(fromRoot('test/fixtures/wasi/src')).filter((f) => f.endsWith('.c'));
    assert.ok(sources.length >= 10);
    for (const c of sources) {
      const name = c.replace(/\.c$/, '');
      assert.deepEqual(readFileSync(join(out.path, `${name}.wasm`)), readFileSync(fixture(name)), `${c} is stale: npm run build:fixtures`);
    }
  } finally {
    out.remove();
  }
});
