// The committed CGI guests (and examples/http/hello.wasm) must be what their C sources build to
// (after editing a source: bash scripts/build-cgi-fixtures.sh). Skipped where clang-14 is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';

const hasClang = spawnSync('clang-14', ['--version']).status === 0;

test('every CGI guest compiles to its committed .wasm', { skip: hasClang ? false : 'clang-14 not installed' }, () => {
  const out = mkdtempSync(join(tmpdir(), 'isola-cgi-fixtures-'));
  try {
    const r = spawnSync('bash', [fromRoot('scripts/build-cgi-fixtures.sh')], {
      env: { ...process.env, ISOLA_FIXTURES_OUT: out }, encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const sources = readdirSync(fromRoot('test/fixtures/cgi/src')).filter((f) => f.endsWith('.c'));
    assert.ok(sources.length >= 11);
    for (const c of sources) {
      const name = c.replace(/\.c$/, '');
      assert.deepEqual(readFileSync(join(out, `${name}.wasm`)), readFileSync(fromRoot('test/fixtures/cgi', `${name}.wasm`)),
        `${c} is stale: bash scripts/build-cgi-fixtures.sh`);
    }
    assert.deepEqual(readFileSync(join(out, 'examples/hello.wasm')), readFileSync(fromRoot('examples/http/hello.wasm')),
      'examples/http/hello.c is stale: bash scripts/build-cgi-fixtures.sh');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
