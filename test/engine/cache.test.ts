import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, IsolaError, defaultCacheDir, isArtifact } from '../../src/index.js';
import { tempDir, wat } from './wat.js';
import { DEFAULT_MAX_TABLE_ELEMENTS, DEFAULT_MAX_TOTAL_TABLE_ELEMENTS } from '../../src/engine/limits.js';

const MODULE = wat(`(module
  (memory (export "memory") 1)
  (func (export "spin") (loop $l (br $l)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`);

test('cache directory: ISOLA_CACHE_DIR, then XDG_CACHE_HOME/isola, then ~/.cache/isola', () => {
  assert.equal(defaultCacheDir({ ISOLA_CACHE_DIR: '/x', XDG_CACHE_HOME: '/y', HOME: '/h' }), '/x');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/y', HOME: '/h' }), '/y/isola');
  assert.equal(defaultCacheDir({ HOME: '/h' }), '/h/.cache/isola');
});

test('memory cache: the same bytes and options give the same CompiledModule', () => {
  const engine = new Engine({ cacheDir: null });
  const a = engine.compile(MODULE, { fuel: true });
  assert.equal(engine.compile(Uint8Array.from(MODULE), { fuel: true }), a);
  assert.notEqual(engine.compile(MODULE, { fuel: false }), a, 'options are part of the key');
  assert.notEqual(engine.compile(MODULE, { fuel: true, maxMemoryBytes: 65536 }), a);
  assert.equal(engine.stats.memoryHits, 1);
  assert.notEqual(engine.compile(MODULE, { fuel: true, cache: false }), a, 'cache: false bypasses it');
});

test('disk cache: a second engine reuses the instrumented bytes; entries are signed files', () => {
  const dir = tempDir();
  const first = new Engine({ cacheDir: dir });
  first.compile(MODULE, { fuel: true });
  assert.equal(first.stats.diskHits, 0);
  const entries = readdirSync(join(dir, 'modules'));
  assert.equal(entries.length, 1);
  assert.match(entries[0]!, /^[0-9a-f]{64}\.isolart$/);
  assert.equal(statSync(join(dir, 'artifact-signing.key')).mode & 0o777, 0o600);

  const second = new Engine({ cacheDir: dir });
  const compiled = second.compile(MODULE, { fuel: true });
  assert.equal(second.stats.diskHits, 1);
  assert.throws(() => compiled.instantiate({}, { fuel: 1000 }).invoke('spin'), { code: 'FUEL' });

  // A tampered entry is ignored (recompiled), never trusted.
  const entry = join(dir, 'modules', entries[0]!);
  const bytes = readFileSync(entry);
  bytes[bytes.length - 40] ^= 0xff;
  writeFileSync(entry, bytes);
  const third = new Engine({ cacheDir: dir });
  third.compile(MODULE, { fuel: true });
  assert.equal(third.stats.diskHits, 0);
});

test('an unwritable cache directory does not break compiling or running', { skip: process.getuid?.() === 0 ? 'root ignores file permissions' : false }, () => {
  const dir = tempDir();
  chmodSync(dir, 0o500);
  try {
    const compiled = new Engine({ cacheDir: join(dir, 'cache') }).compile(MODULE, { fuel: true });
    assert.deepEqual(compiled.instantiate().invoke('add', [1, 2]), [3]);
  } finally {
    chmodSync(dir, 0o700);
  }
});

test('a cache directory that is a file does not break compiling or running', () => {
  const file = join(tempDir(), 'not-a-dir');
  writeFileSync(file, 'x');
  const compiled = new Engine({ cacheDir: file }).compile(MODULE, { fuel: true });
  assert.deepEqual(compiled.instantiate().invoke('add', [2, 2]), [4]);
});

test('artifacts: round trip without re-instrumenting, limits still enforced', () => {
  const dir = tempDir();
  const artifact = new Engine({ cacheDir: dir }).compile(MODULE, { fuel: true, maxMemoryBytes: 65536 }).toArtifact();
  assert.ok(isArtifact(artifact));
  const loader = new Engine({ cacheDir: null, keyDir: dir });
  const loaded = loader.loadArtifact(artifact);
  assert.deepEqual(loaded.options, {
    fuel: true, maxMemoryBytes: 65536, maxTableElements: DEFAULT_MAX_TABLE_ELEMENTS, maxTotalTableElements: DEFAULT_MAX_TOTAL_TABLE_ELEMENTS,
  });
  assert.deepEqual(loaded.info.exports.map((e) => e.name), ['memory', 'spin', 'add']);
  const instance = loaded.instantiate({}, { fuel: 500 });
  assert.deepEqual(instance.invoke('add', [40, 2]), [42]);
  assert.throws(() => instance.invoke('spin'), { code: 'FUEL', message: 'fuel exhausted after 500 units' });
  assert.equal(loader.load(artifact), loaded, 'load() recognises artifacts; the memory cache holds them');
});

function rejected(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof IsolaError && e.code === 'ARTIFACT' && pattern.test(e.message));
}

test('forged artifacts are rejected: another key, an edited body, a hand-made file, truncation', () => {
  const dir = tempDir();
  const engine = new Engine({ cacheDir: dir });
  const artifact = engine.compile(MODULE, { fuel: true }).toArtifact();

  // Made by someone else (another user's key): e.g. claiming metering it does not have.
  const unmetered = new Engine({ cacheDir: tempDir() }).compile(MODULE, { fuel: false }).toArtifact();
  rejected(() => engine.loadArtifact(unmetered), /signature does not match this user's key/);

  const edited = Uint8Array.from(artifact);
  edited[20] ^= 1;
  rejected(() => engine.loadArtifact(edited), /signature does not match/);

  const handMade = new Uint8Array([...new TextEncoder().encode('ISOLAART'), 2, 0, 0, 0, 0x7b, 0x7d, ...new Uint8Array(32)]);
  rejected(() => engine.loadArtifact(handMade), /signature does not match/);
  rejected(() => engine.loadArtifact(artifact.subarray(0, 20)), /truncated|signature/);
  rejected(() => engine.loadArtifact(MODULE), /not an isola artifact/);
});

test('a deleted key invalidates artifacts with a message that says what to do', () => {
  const dir = tempDir();
  const artifact = new Engine({ cacheDir: dir }).compile(MODULE, { fuel: true }).toArtifact();
  const fresh = tempDir();
  assert.ok(!existsSync(join(fresh, 'artifact-signing.key')));
  rejected(() => new Engine({ cacheDir: fresh }).loadArtifact(artifact), /recompile it with `isola compile`/);
});

test('the engine keeps its own copy of the bytes: reusing the buffer afterwards changes nothing', () => {
  const dir = tempDir();
  const engine = new Engine({ cacheDir: dir });
  const buffer = Uint8Array.from(MODULE);
  const compiled = engine.compile(buffer, { fuel: true });
  buffer.fill(0);
  const reloaded = new Engine({ cacheDir: null, keyDir: dir }).loadArtifact(compiled.toArtifact());
  assert.deepEqual(reloaded.info.exports.map((e) => e.name), ['memory', 'spin', 'add']);
  assert.deepEqual(reloaded.instantiate().invoke('add', [1, 1]), [2]);
});
