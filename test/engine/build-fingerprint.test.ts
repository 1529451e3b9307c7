// Two builds of isola with the same version string but different engine or rewriter code must not
// share compiled modules: cache keys and artifacts carry a fingerprint of the build's code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, IsolaError } from '../../src/index.js';
import { buildFingerprint, codeFingerprint, setBuildFingerprintForTests } from '../../src/engine/build-fingerprint.js';
import { fromRoot } from '../helpers/root.js';
import { tempDir, wat } from './wat.js';

const MODULE = wat('(module (func (export "f") (result i32) (i32.const 7)))');

test('the fingerprint is the hash of the built engine and wasm code, and changes with any of it', () => {
  const src = fromRoot('dist', 'src');
  assert.equal(buildFingerprint(), codeFingerprint(src));
  assert.match(buildFingerprint(), /^[0-9a-f]{16}$/);
  const copy = tempDir();
  for (const dir of ['engine', 'wasm']) cpSync(join(src, dir), join(copy, dir), { recursive: true });
  assert.equal(codeFingerprint(copy), buildFingerprint());
  writeFileSync(join(copy, 'wasm', 'fuel.js.map'), 'source maps do not count');
  assert.equal(codeFingerprint(copy), buildFingerprint());
  appendFileSync(join(copy, 'wasm', 'fuel.js'), '\n// another build\n');
  assert.notEqual(codeFingerprint(copy), buildFingerprint());
});

test('the bundles carry the same fingerprint as the unbundled build', () => {
  for (const bundle of ['cli/isola.js', 'cells/agent.js', 'cells/worker.js']) {
    assert.ok(readFileSync(fromRoot('dist', 'bundle', bundle), 'utf8').includes(JSON.stringify(buildFingerprint())), bundle);
  }
});

test('another build misses the disk cache and refuses this build\'s artifacts with a clear error', (t) => {
  t.after(() => setBuildFingerprintForTests(null));
  const dir = tempDir();
  const first = new Engine({ cacheDir: dir });
  const artifact = first.compile(MODULE, { fuel: true }).toArtifact();
  assert.equal(first.stats.compiled, 1);
  const again = new Engine({ cacheDir: dir });
  again.compile(MODULE, { fuel: true });
  assert.equal(again.stats.diskHits, 1, 'the same build hits the disk cache');

  setBuildFingerprintForTests('0123456789abcdef');
  const other = new Engine({ cacheDir: dir });
  other.compile(MODULE, { fuel: true });
  assert.deepEqual([other.stats.diskHits, other.stats.compiled], [0, 1], 'another build misses');
  assert.throws(() => other.loadArtifact(artifact), (e: unknown) => e instanceof IsolaError && e.code === 'ARTIFACT'
    && /^artifact rejected: made by another build of isola [^ ]+ \(build [0-9a-f]{16}; this is build 0123456789abcdef\), whose instrumentation may differ — recompile it with `isola compile`$/.test(e.message));
});
