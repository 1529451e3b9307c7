// memory.atomic.wait on a shared memory blocks the host thread until another agent wakes it: with
// timeout -1, forever, and isola's timeout cannot interrupt a blocked thread. So shared memories are
// refused unless CompileOptions.threads asks for them; a wait on an unshared memory traps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError } from '../../src/index.js';
import { describeChild, runInChild } from './child.js';
import { tempDir } from './wat.js';
import { wat } from '../wasm/wat.js'; // with the threads feature

const WAIT_FOREVER = `(func (export "wait") (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))`;
const SHARED = `(module (memory 1 1 shared) ${WAIT_FOREVER})`;

const sharedModule = (): Uint8Array => {
  const bytes = wat(SHARED);
  assert.ok(WebAssembly.validate(bytes));
  return bytes;
};

test('attack: an endless atomic wait on a shared memory cannot hang the host (refused at compile, before it runs)', () => {
  // Before: the child blocked forever in memory.atomic.wait32 despite timeoutMs, and the watchdog killed it.
  const r = runInChild(sharedModule(), `
    try {
      const instance = new Engine({ cacheDir: null }).compile(bytes, { fuel: true }).instantiate({}, { timeoutMs: 200 });
      console.log('ran', instance.invoke('wait'));
    } catch (e) {
      console.log(e instanceof IsolaError ? e.code + ': ' + e.message : 'raw ' + e);
    }
  `, { timeoutMs: 15_000 });
  assert.equal(r.signal, null, `watchdog had to kill the child: ${describeChild(r)}`);
  assert.equal(r.status, 0, describeChild(r));
  assert.match(r.stdout, /^INVALID: module refused: memory 0 is shared \(threads\)/);
});

test('shared memories are refused everywhere a module is loaded, imported ones too, unless threads is set', () => {
  const engine = new Engine({ cacheDir: null });
  const refused = { code: 'INVALID', message: /memory 0 is shared \(threads\).*threads: true/ };
  assert.throws(() => engine.compile(sharedModule()), refused);
  assert.throws(() => engine.compile(wat(`(module (import "env" "m" (memory 1 1 shared)))`)), refused);
  // a cache hit does not skip the check
  const withThreads = engine.compile(sharedModule(), { threads: true });
  assert.ok(withThreads.info.memories[0]!.shared);
  assert.throws(() => engine.compile(sharedModule()), refused);
  // an artifact of a threads module loads only with threads too
  const artifact = new Engine({ cacheDir: null, keyDir: engineKeyDir() }).compile(sharedModule(), { threads: true, fuel: true }).toArtifact();
  assert.throws(() => new Engine({ cacheDir: null, keyDir: engineKeyDir() }).load(artifact), refused);
  assert.ok(new Engine({ cacheDir: null, keyDir: engineKeyDir() }).load(artifact, { threads: true }));
});

test('with threads, a shared memory works (a wait that times out returns 2)', () => {
  const bytes = wat(`(module (memory 1 1 shared) (func (export "wait") (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 1000))))`);
  const instance = new Engine({ cacheDir: null }).compile(bytes, { threads: true }).instantiate({}, { fuel: 1000 });
  assert.deepEqual(instance.invoke('wait'), [2]);
});

test('an atomic wait on an unshared memory traps at once', () => {
  const instance = new Engine({ cacheDir: null }).compile(wat(`(module (memory 1) ${WAIT_FOREVER})`)).instantiate({}, { timeoutMs: 1000 });
  assert.throws(() => instance.invoke('wait'), (e: unknown) => e instanceof IsolaError && e.code === 'TRAP');
});

let keyDir: string | undefined;
const engineKeyDir = (): string => (keyDir ??= tempDir('isola-threads-'));
