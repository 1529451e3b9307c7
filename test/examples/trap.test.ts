import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError } from '../../src/index.js';
import { isola, example, exampleBytes, lines, NODE_STACK } from './support.js';

const OUT_OF_BOUNDS_ID = '100000000'; // records[id] lands ~400 MB past a 128 KiB memory
const FRAMES = ['lookup_record', 'handle_request', 'run']; // innermost first

/** The innermost frame names of a printed backtrace (`  at NAME (func N, offset 0xHEX)`). */
const namedFrames = (stderr: string): string[] =>
  [...stderr.matchAll(/^\s*at (\S+) \(func \d+, offset 0x[0-9a-f]+\)$/gm)].map((m) => m[1]!).slice(0, FRAMES.length);

test('cli: a valid id returns normally', () => {
  const r = isola(['run', '--invoke', 'run', example('trap.wasm'), '3']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r), ['4']);
});

test('cli: the trap is one error line, and --backtrace adds named frames', () => {
  const plain = isola(['run', '--invoke', 'run', example('trap.wasm'), OUT_OF_BOUNDS_ID]);
  assert.ok(plain.status !== 0 && plain.status !== null, `status ${plain.status}`);
  assert.match(plain.stderr, /^error: wasm trap: out of bounds memory access$/m);
  assert.doesNotMatch(plain.stderr, NODE_STACK);

  for (const [args, env] of [[['--backtrace'], {}], [[], { ISOLA_BACKTRACE: '1' }]] as const) {
    const r = isola(['run', ...args, '--invoke', 'run', example('trap.wasm'), OUT_OF_BOUNDS_ID], undefined, env);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^error: wasm trap: out of bounds memory access$/m);
    assert.doesNotMatch(r.stderr, NODE_STACK);
    assert.deepEqual(namedFrames(r.stderr), FRAMES, r.stderr);
  }
});

test('cli: the backtrace names the same frames when the module is fuel-metered', () => {
  const r = isola(['run', '--fuel', '1000000000', '--backtrace', '--invoke', 'run', example('trap.wasm'), OUT_OF_BOUNDS_ID]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: wasm trap: out of bounds memory access$/m);
  assert.deepEqual(namedFrames(r.stderr), FRAMES, r.stderr);
});

test('library: the trap is an IsolaError with named frames', () => {
  const instance = new Engine({ cacheDir: null }).compile(exampleBytes('trap.wasm')).instantiate();
  assert.throws(
    () => instance.invoke('run', [OUT_OF_BOUNDS_ID]),
    (e: unknown) => {
      assert.ok(e instanceof IsolaError, String(e));
      assert.equal(e.code, 'TRAP');
      assert.equal(e.message, 'wasm trap: out of bounds memory access');
      const frames = e.detail.frames as Array<{ name?: string }>;
      assert.deepEqual(frames.slice(0, FRAMES.length).map((f) => f.name), FRAMES);
      return true;
    },
  );
});
