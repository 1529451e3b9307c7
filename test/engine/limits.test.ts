import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError } from '../../src/index.js';
import { wat } from './wat.js';

const LOOPS = wat(`(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "noop")))`);

const engine = new Engine({ cacheDir: null });
const metered = engine.compile(LOOPS, { fuel: true });

function limitError(fn: () => unknown, code: string, message: string): IsolaError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IsolaError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('fuel exhausted: exact message, and fuel consumed is readable after every call', () => {
  const instance = metered.instantiate({}, { fuel: 1_000_000 });
  assert.deepEqual(instance.invoke('count', [10]), [10]);
  const afterTen = instance.fuelConsumed;
  assert.ok(afterTen > 10n && afterTen < 200n, `fuel after count(10): ${afterTen}`);
  instance.invoke('count', [20]);
  const afterTwenty = instance.fuelConsumed - afterTen;
  assert.ok(afterTwenty > afterTen, 'more iterations cost more fuel');
  limitError(() => instance.invoke('spin'), 'FUEL', 'fuel exhausted after 1000000 units');
  assert.ok(instance.fuelConsumed > 1_000_000n);
  // Exhausted stays exhausted: the budget is per instance, summed over calls.
  limitError(() => instance.invoke('noop'), 'FUEL', 'fuel exhausted after 1000000 units');
});

test('fuel is deterministic: the same work costs the same fuel', () => {
  const a = metered.instantiate({}, { fuel: 10n ** 12n });
  const b = metered.instantiate();
  a.invoke('count', [12345]);
  b.invoke('count', [12345]);
  assert.equal(a.fuelConsumed, b.fuelConsumed);
});

test('a budget that exactly covers the work is enough; a smaller one is not, and an overdraft ends the next call', () => {
  const probe = metered.instantiate();
  probe.invoke('count', [100]);
  const cost = probe.fuelConsumed;
  assert.deepEqual(metered.instantiate({}, { fuel: cost }).invoke('count', [100]), [100]);
  assert.throws(() => metered.instantiate({}, { fuel: cost - 20n }).invoke('count', [100]), { code: 'FUEL' });
  // Checks sit at function entry and loop headers (as in wasmtime): the straight-line tail of a call
  // may overdraw by a few units, and the next call's entry check ends it.
  const tight = metered.instantiate({}, { fuel: cost - 1n });
  try {
    tight.invoke('count', [100]);
  } catch (e) {
    assert.equal((e as IsolaError).code, 'FUEL');
  }
  assert.throws(() => tight.invoke('noop'), { code: 'FUEL' });
});

test('a fuel limit on an unmetered module compiles a metered variant rather than ignoring it', () => {
  const plain = engine.compile(LOOPS);
  assert.equal(plain.options.fuel, false);
  limitError(() => plain.instantiate({}, { fuel: 5000 }).invoke('spin'), 'FUEL', 'fuel exhausted after 5000 units');
});

test('timeout interrupts an infinite loop, not before the timeout and soon after it', () => {
  const instance = metered.instantiate({}, { timeoutMs: 300 });
  const start = performance.now();
  limitError(() => instance.invoke('spin'), 'TIMEOUT', 'timed out after 300ms');
  const elapsed = performance.now() - start;
  // Not before (minus the timer's rounding); the upper bound only catches "never checked" on a loaded machine.
  assert.ok(elapsed >= 290 && elapsed < 2000, `interrupted after ${elapsed.toFixed(0)}ms`);
  // The clock restarts for every outermost call.
  assert.deepEqual(instance.invoke('count', [5]), [5]);
});

test('timeout also applies through getFunction, and without any fuel budget', () => {
  const spin = engine.compile(LOOPS).instantiate({}, { timeoutMs: 100 }).getFunction('spin');
  assert.throws(() => spin(), { code: 'TIMEOUT', message: 'timed out after 100ms' });
});

test('a guest cannot catch fuel exhaustion or a timeout with exception handling', () => {
  const bytes = wat(`(module
    (tag $e)
    (func $work (param $n i32) (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "stubborn")
      (loop $again
        (try (do (call $work (i32.const 1000))) (catch_all))
        (br $again))))`);
  const compiled = engine.compile(bytes, { fuel: true });
  limitError(() => compiled.instantiate({}, { fuel: 100_000 }).invoke('stubborn'), 'FUEL', 'fuel exhausted after 100000 units');
  const start = performance.now();
  limitError(() => compiled.instantiate({}, { timeoutMs: 200 }).invoke('stubborn'), 'TIMEOUT', 'timed out after 200ms');
  assert.ok(performance.now() - start < 2000, 'the timeout was not caught and retried by the guest');
});

test('an infinite loop in the start function is stopped by fuel and by timeout', () => {
  const bytes = wat(`(module (func $s (loop $l (br $l))) (start $s))`);
  const compiled = engine.compile(bytes, { fuel: true });
  assert.throws(() => compiled.instantiate({}, { fuel: 10_000 }), { code: 'FUEL', message: 'fuel exhausted after 10000 units' });
  assert.throws(() => compiled.instantiate({}, { timeoutMs: 100 }), { code: 'TIMEOUT' });
});

test('fuel and timeout errors carry the frames where the guest was stopped', () => {
  const e = limitError(() => metered.instantiate({}, { fuel: 1000 }).invoke('spin'), 'FUEL', 'fuel exhausted after 1000 units');
  const frames = e.detail.frames as Array<{ funcIndex: number }>;
  assert.equal(frames[0]?.funcIndex, 0);
});

const MEMORY = wat(`(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))`);

test('memory cap: growing past it fails (-1) instead of allocating', () => {
  const instance = engine.compile(MEMORY, { maxMemoryBytes: 4 * 65536 }).instantiate();
  assert.deepEqual(instance.invoke('grow', [3]), [1]);
  assert.deepEqual(instance.invoke('grow', [1]), [-1]);
  assert.deepEqual(instance.invoke('size'), [4]);
  assert.equal(instance.memory?.buffer.byteLength, 4 * 65536);
});

test('memory cap: a module whose initial memory exceeds it is refused at load', () => {
  const big = wat(`(module (memory 10))`);
  assert.throws(() => engine.compile(big, { maxMemoryBytes: 65536 }), { code: 'MEMORY_LIMIT' });
});

test('memory cap given as a limit to an uncapped module is enforced via a capped variant', () => {
  const instance = engine.compile(MEMORY).instantiate({}, { maxMemoryBytes: 2 * 65536 });
  assert.deepEqual(instance.invoke('grow', [1]), [1]);
  assert.deepEqual(instance.invoke('grow', [1]), [-1]);
});

test('invalid limits are usage errors', () => {
  assert.throws(() => metered.instantiate({}, { fuel: -1 }), { code: 'USAGE' });
  assert.throws(() => metered.instantiate({}, { timeoutMs: 0 }), { code: 'USAGE' });
  assert.throws(() => engine.compile(MEMORY, { maxMemoryBytes: 0 }), { code: 'USAGE' });
});

test('an invalid module cannot become valid through instrumentation (e.g. to reach the fuel global)', () => {
  // (func (export "run") (global.set 0 (i64.const 2^62-1)) (loop (br 0))) with no global 0: invalid as written,
  // but global 0 is exactly where a fuel global would go.
  const body = [0x00, 0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x24, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b];
  const code = [0x01, body.length, ...body];
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
    0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x00, 0x0a, code.length, ...code]);
  assert.equal(WebAssembly.validate(bytes), false);
  for (const options of [{ fuel: true }, { maxMemoryBytes: 65536 }]) {
    assert.throws(() => new Engine({ cacheDir: null }).compile(bytes, options), { code: 'INVALID', message: /Invalid global index: 0/ });
  }
});

test('a tick is called about every slice of guest work, even with no timeout; an unmetered module has none', () => {
  let ticks = 0;
  const n = 20_000_000; // ~100 M units: about a hundred slices of 1 M
  assert.equal(metered.instantiate({}, { tick: () => ticks++ }).invoke('count', [n])[0], n);
  assert.ok(ticks >= 20, `${ticks} ticks`);
  // A tick alone never asks for a metered variant.
  ticks = 0;
  assert.equal(engine.compile(LOOPS).instantiate({}, { tick: () => ticks++ }).invoke('count', [n])[0], n);
  assert.equal(ticks, 0);
});

test('a cancel flag stops the guest while non-zero; with a cancelId, only while it holds that id', () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(flag, 0, 7);
  limitError(() => metered.instantiate({}, { cancelFlag: flag }).invoke('spin'), 'CANCELLED', 'cancelled');
  limitError(() => metered.instantiate({}, { cancelFlag: flag, cancelId: 7 }).invoke('spin'), 'CANCELLED', 'cancelled');
  // Another invocation's id in the flag (a worker's parked guest was named): this one runs on, to its own timeout.
  limitError(() => metered.instantiate({}, { cancelFlag: flag, cancelId: 8, timeoutMs: 50 }).invoke('spin'), 'TIMEOUT', 'timed out after 50ms');
});
