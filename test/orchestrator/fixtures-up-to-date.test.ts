// The committed CGI guests (and examples/http/hello.wasm, examples/kv/counter.wasm) must be what their C sources build to
// (after editing a source: bash scripts/build-cgi-fixtures.sh), whatever else is installed (see helpers/rebuild.ts).
// Skipped where clang-14 is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { hasClang, rebuild } from '../helpers/rebuild.js';

test('every CGI guest compiles to its committed .wasm', { skip: hasClang ? false : 'clang-14 not installed' }, () => {
  const out = mkdtempSync(join(tmpdir(), 'isola-cgi-fixtures-'));
  try {
    const r = rebuild('build-cgi-fixtures.sh', 'ISOLA_FIXTURES_OUT', out);
    assert.equal(r.status, 0, r.stderr);
    const sources = readdirSync(fromRoot('test/fixtures/cgi/src')).filter((f) => f.endsWith('.c'));
    assert.ok(sources.length >= 11);
    for (const c of sources) {
      const name = c.replace(/\.c$/, '');
      assert.deepEqual(readFileSync(join(out, `${name}.wasm`)), readFileSync(fromRoot('test/fixtures/cgi', `${name}.wasm`)),
        `${c} is stale: bash scripts/build-cgi-fixtures.sh`);
    }
    for (const example of ['examples/http/hello', 'examples/kv/counter']) {
      assert.deepEqual(readFileSync(join(out, `${example}.wasm`)), readFileSync(fromRoot(`${example}.wasm`)),
        `${example}.c is stale: bash scripts/build-cgi-fixtures.sh`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
