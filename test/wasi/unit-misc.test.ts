// args, environ, clocks, random, poll_oneoff, stdio (capture caps, stdin buffers), proc_exit,
// and running whole commands/reactors through the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/index.js';
import { OutputCapture, runWasiCommand, startWasiReactor, WasiExit } from '../../src/capabilities/wasi-p1/index.js';
import { wat } from '../engine/wat.js';
import { E, Guest } from './unit-harness.js';

test('no grants: empty argv and environment, no preopens', () => {
  process.env.ISOLA_SHOULD_NOT_LEAK = 'x';
  const g = new Guest({});
  const a = g.alloc(8);
  assert.equal(g.w.args_sizes_get!(a, a + 4), 0);
  assert.deepEqual([g.u32(a), g.u32(a + 4)], [0, 0]);
  assert.equal(g.w.environ_sizes_get!(a, a + 4), 0);
  assert.deepEqual([g.u32(a), g.u32(a + 4)], [0, 0]);
  assert.equal(g.w.fd_prestat_get!(3, a), E.BADF);
  assert.equal(g.read(0).text, ''); // stdin: immediate EOF
  assert.equal(g.write(1, 'discarded').n, 9); // stdout: discarded, not an error
});

test('args and environ arrive exactly', () => {
  const g = new Guest({ args: ['prog', 'a b', 'ü'], env: { K: 'v=1', EMPTY: '' } });
  const sizes = g.alloc(8);
  assert.equal(g.w.args_sizes_get!(sizes, sizes + 4), 0);
  assert.equal(g.u32(sizes), 3);
  const ptrs = g.alloc(12);
  const buf = g.alloc(g.u32(sizes + 4));
  assert.equal(g.w.args_get!(ptrs, buf), 0);
  assert.equal(g.text(g.u32(ptrs + 4), 4), 'a b\0');
  assert.equal(g.text(buf, g.u32(sizes + 4)), 'prog\0a b\0ü\0');
  assert.equal(g.w.environ_sizes_get!(sizes, sizes + 4), 0);
  const ebuf = g.alloc(64);
  assert.equal(g.w.environ_get!(g.alloc(8), ebuf), 0);
  assert.equal(g.text(ebuf, g.u32(sizes + 4)), 'K=v=1\0EMPTY=\0');
});

test('clocks: realtime near Date.now, monotonic increases, cpu time, bad ids', () => {
  const g = new Guest({});
  const t = g.alloc(8);
  assert.equal(g.w.clock_time_get!(0, 1n, t), 0);
  const real = g.u64(t);
  assert.ok(Math.abs(Number(real / 1_000_000n) - Date.now()) < 1000);
  assert.equal(g.w.clock_time_get!(1, 1n, t), 0);
  const m1 = g.u64(t);
  assert.equal(g.w.clock_time_get!(1, 1n, t), 0);
  assert.ok(g.u64(t) >= m1);
  for (const id of [2, 3]) {
    assert.equal(g.w.clock_time_get!(id, 1n, t), 0);
    assert.ok(g.u64(t) > 0n);
    assert.equal(g.w.clock_res_get!(id, t), 0);
  }
  assert.equal(g.w.clock_res_get!(1, t), 0);
  assert.ok(g.u64(t) > 0n);
  assert.equal(g.w.clock_time_get!(4, 1n, t), E.INVAL);
  assert.equal(g.w.clock_res_get!(-1, t), E.INVAL);
});

test('random_get fills large and empty buffers', () => {
  const g = new Guest({});
  const p = g.alloc(8);
  assert.equal(g.w.random_get!(p, 0), 0);
  const big = 100_000;
  assert.equal(g.w.random_get!(1024, big), 0);
  const bytes = g.u8.subarray(1024, 1024 + big);
  assert.ok(bytes.some((b) => b !== 0));
  assert.ok(bytes.subarray(big - 100).some((b) => b !== 0)); // past the 64 KiB chunk too
});

/** Writes one subscription (48 bytes) at p. */
function sub(g: Guest, p: number, userdata: bigint, tag: number, a: number | bigint, timeout = 0n, flags = 0): void {
  g.u8.fill(0, p, p + 48);
  g.dv.setBigUint64(p, userdata, true);
  g.u8[p + 8] = tag;
  if (tag === 0) {
    g.dv.setUint32(p + 16, Number(a), true);
    g.dv.setBigUint64(p + 24, timeout, true);
    g.dv.setUint16(p + 40, flags, true);
  } else g.dv.setUint32(p + 16, Number(a), true);
}

test('poll_oneoff: relative and absolute clocks sleep; ready fds return at once', () => {
  const g = new Guest({ stdin: new TextEncoder().encode('abc') });
  const subs = g.alloc(48 * 3), events = g.alloc(32 * 3), n = g.alloc(4);
  sub(g, subs, 7n, 0, 1, 30_000_000n); // 30 ms on the monotonic clock
  let t0 = performance.now();
  assert.equal(g.w.poll_oneoff!(subs, events, 1, n), 0);
  assert.ok(performance.now() - t0 >= 29);
  assert.equal(g.u32(n), 1);
  assert.equal(g.u64(events), 7n);
  assert.equal(g.u8[events + 10], 0);
  // Absolute realtime deadline 20 ms ahead.
  const now = g.alloc(8);
  g.w.clock_time_get!(0, 1n, now);
  sub(g, subs, 8n, 0, 0, g.u64(now) + 20_000_000n, 1);
  t0 = performance.now();
  assert.equal(g.w.poll_oneoff!(subs, events, 1, n), 0);
  assert.ok(performance.now() - t0 >= 15);
  // stdin readable (3 bytes) + a long clock: only stdin, immediately.
  sub(g, subs, 1n, 1, 0);
  sub(g, subs + 48, 2n, 0, 1, 10_000_000_000n);
  sub(g, subs + 96, 3n, 2, 1);
  t0 = performance.now();
  assert.equal(g.w.poll_oneoff!(subs, events, 3, n), 0);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(g.u32(n), 2);
  assert.equal(g.u64(events), 1n);
  assert.equal(g.u64(events + 16), 3n); // nbytes available
  assert.equal(g.u64(events + 32), 3n);
  assert.equal(g.u8[events + 32 + 10], 2);
  // A forged fd is an event with EBADF, not a failed call; zero subscriptions is EINVAL.
  sub(g, subs, 9n, 1, 1234);
  assert.equal(g.w.poll_oneoff!(subs, events, 1, n), 0);
  assert.equal(g.dv.getUint16(events + 8, true), E.BADF);
  assert.equal(g.w.poll_oneoff!(subs, events, 0, n), E.INVAL);
});

test('stdin from a buffer; OutputCapture stops at its cap and reports truncation', () => {
  const out = new OutputCapture(10);
  const err = new OutputCapture(100);
  const g = new Guest({ stdin: new TextEncoder().encode('line1\nline2\n'), stdout: out, stderr: err });
  assert.equal(g.read(0, 6).text, 'line1\n');
  assert.equal(g.read(0).text, 'line2\n');
  assert.equal(g.read(0).text, '');
  assert.equal(g.write(1, 'hello ').n, 6);
  assert.equal(g.write(1, 'world, and more').n, 15); // the guest is told all was written
  assert.equal(out.text(), 'hello worl');
  assert.equal(out.truncated, true);
  assert.equal(g.write(2, 'e').n, 1);
  assert.equal(err.text(), 'e');
  assert.equal(err.truncated, false);
  assert.equal(g.read(1).errno, E.BADF);
  assert.equal(g.write(0, 'x').errno, E.BADF);
});

test('proc_exit throws WasiExit with the code', () => {
  const g = new Guest({});
  assert.throws(() => g.w.proc_exit!(7), (e: unknown) => e instanceof WasiExit && e.exitCode === 7);
  assert.equal(g.wasi.exitCode, 7);
});

const COMMAND = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 7))))`;

test('runWasiCommand: output and exit code; a return from _start is 0', () => {
  const engine = new Engine({ cacheDir: null });
  const out = new OutputCapture(100);
  assert.equal(runWasiCommand(engine.compile(wat(COMMAND)), { stdout: out }), 7);
  assert.equal(out.text(), 'hi\n');
  const plain = `(module (memory (export "memory") 1) (func (export "_start")))`;
  assert.equal(runWasiCommand(engine.compile(wat(plain)), {}), 0);
  // With fuel metering on, proc_exit still maps to the code.
  assert.equal(runWasiCommand(engine.compile(wat(COMMAND)), { stdout: new OutputCapture(10) }, { fuel: 1_000_000 }), 7);
});

test('startWasiReactor runs _initialize, then exports are callable', () => {
  const engine = new Engine({ cacheDir: null });
  const reactor = `(module
    (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (global $ready (mut i32) (i32.const 0))
    (func (export "_initialize") (global.set $ready (i32.const 41)))
    (func (export "answer") (result i32) (i32.add (global.get $ready) (call $r (i32.const 0) (i32.const 4)))))`;
  const { instance, wasi } = startWasiReactor(engine.compile(wat(reactor)), {});
  assert.deepEqual(instance.invoke('answer'), [41]);
  wasi.close();
});

test('a sleep never outlasts the wall-clock timeout: poll_oneoff ends the guest with TIMEOUT', () => {
  const g = new Guest({});
  g.wasi.setTimeout(40);
  const subs = g.alloc(48), events = g.alloc(32), n = g.alloc(4);
  sub(g, subs, 1n, 0, 1, 60_000_000_000n); // one minute
  const t0 = performance.now();
  assert.throws(() => g.w.poll_oneoff!(subs, events, 1, n), (e: unknown) => (e as { code?: string }).code === 'TIMEOUT');
  assert.ok(performance.now() - t0 < 5000);
  g.wasi.setTimeout(undefined);
  sub(g, subs, 1n, 0, 1, 1_000_000n);
  assert.equal(g.w.poll_oneoff!(subs, events, 1, n), 0);
});
