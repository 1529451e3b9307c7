// CompileOptions.reuseMemory: instances draw their memory from a per-module pool of zeroed memories.
// Each test attacks one way a recycled memory could carry one request's state into the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine, IsolaError, type CompiledModule, type Instance, type WasmFrame } from '../../src/index.js';
import type { CompiledModuleImpl } from '../../src/engine/compiled-module.js';
import { MAX_IDLE_MEMORIES } from '../../src/engine/memory-pool.js';
import { MAX_POOLED_INITIAL_PAGES } from '../../src/wasm/memory-import.js';
import { AgentCore } from '../../src/cells/agent/core.js';
import { OutputCapture, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';
import { fromRoot } from '../helpers/root.js';
import { tempDir, wat } from './wat.js';

const PAGE = 65536;

/** steal(x, v): returns the byte at x and writes v there. A data segment puts 0x2a at 100. */
const GUEST = wat(`(module
  (memory (export "memory") 1)
  (data (i32.const 100) "\\2a")
  (func (export "steal") (param i32 i32) (result i32)
    (i32.load8_u (local.get 0))
    (i32.store8 (local.get 0) (local.get 1)))
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "sum") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.load8_u (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get 0) (i32.const 0))))
    (local.get 1)))`);

const engine = () => new Engine({ cacheDir: null });
const poolOf = (c: CompiledModule) => (c as CompiledModuleImpl).memoryPool;
const steal = (i: Instance, at: number, v: number) => i.invoke('steal', [at, v])[0];
const peek = (i: Instance, at: number) => i.invoke('peek', [at])[0];

for (const fuel of [false, true]) {
  const label = fuel ? ' (fuel-metered)' : '';

  test(`a released memory goes to the next instance, zeroed, with its data segments written again${label}`, () => {
    const compiled = engine().compile(GUEST, { fuel, reuseMemory: true });
    assert.ok(poolOf(compiled), 'the module qualifies');
    const a = compiled.instantiate();
    const memA = a.memory!;
    assert.equal(steal(a, 5000, 0x77), 0);
    assert.equal(steal(a, PAGE - 1, 0x55), 0);
    assert.equal(steal(a, 100, 0xff), 0x2a, 'the data segment');
    a.release();
    const b = compiled.instantiate();
    assert.equal(b.memory, memA, 'the very same Memory: pooling is real');
    assert.equal(steal(b, 5000, 1), 0, 'the secret is gone');
    assert.equal(steal(b, PAGE - 1, 1), 0);
    assert.equal(peek(b, 100), 0x2a, 'the data segment is back');
    assert.equal(new Uint8Array(memA.buffer).reduce((n, x) => n + (x !== 0 ? 1 : 0), 0), 3, 'only what b wrote and the data segment');
    b.release();
  });

  test(`a grown memory is dropped: the next instance has exactly the initial size${label}`, () => {
    const compiled = engine().compile(GUEST, { fuel, reuseMemory: true });
    const a = compiled.instantiate();
    const memA = a.memory!;
    assert.equal(a.invoke('grow', [2])[0], 1);
    steal(a, 2 * PAGE + 10, 0x66);
    a.release();
    assert.equal(poolOf(compiled)!.size, 0);
    const b = compiled.instantiate();
    assert.notEqual(b.memory, memA);
    assert.equal(b.memory!.buffer.byteLength, PAGE);
    assert.equal(b.invoke('size')[0], 1);
    assert.equal(b.invoke('grow', [2])[0], 1);
    assert.equal(peek(b, 2 * PAGE + 10), 0);
  });
}

test('a start function that writes and then traps does not hand its memory on', () => {
  const bytes = wat(`(module
    (import "env" "fail" (global $fail i32))
    (memory (export "memory") 1)
    (func $start (if (global.get $fail) (then (i32.store8 (i32.const 7) (i32.const 99)) unreachable)))
    (start $start)
    (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))`);
  for (const fuel of [false, true]) {
    const compiled = engine().compile(bytes, { fuel, reuseMemory: true });
    const a = compiled.instantiate({ env: { fail: 0 } });
    const memA = a.memory!;
    a.release();
    assert.equal(poolOf(compiled)!.size, 1);
    assert.throws(() => compiled.instantiate({ env: { fail: 1 } }), { code: 'TRAP' });
    assert.equal(new Uint8Array(memA.buffer)[7], 99, 'the failed start wrote into the pooled memory');
    assert.equal(poolOf(compiled)!.size, 0, 'and it was not given back');
    const b = compiled.instantiate({ env: { fail: 0 } });
    assert.notEqual(b.memory, memA);
    assert.equal(peek(b, 7), 0);
  }
});

test('an active data segment out of bounds (after an earlier one was written) does not hand its memory on', () => {
  const bytes = wat(`(module
    (import "env" "a" (global $a i32))
    (import "env" "b" (global $b i32))
    (memory (export "memory") 1)
    (data (global.get $a) "SECRET")
    (data (global.get $b) "xx")
    (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))`);
  const compiled = engine().compile(bytes, { reuseMemory: true });
  const first = compiled.instantiate({ env: { a: 2000, b: 3000 } });
  const mem = first.memory!;
  first.release();
  assert.throws(() => compiled.instantiate({ env: { a: 1000, b: 70000 } }), { code: 'TRAP' });
  assert.equal(new Uint8Array(mem.buffer)[1000], 'S'.charCodeAt(0), 'the first segment was written before the trap');
  const next = compiled.instantiate({ env: { a: 2000, b: 3000 } });
  assert.notEqual(next.memory, mem);
  assert.equal(peek(next, 1000), 0);
  assert.equal(peek(next, 2000), 'S'.charCodeAt(0));
});

test('after release, invoke, getFunction and the functions it gave throw USAGE; release twice is fine', () => {
  const compiled = engine().compile(GUEST, { fuel: true, reuseMemory: true });
  const a = compiled.instantiate();
  const peekFn = a.getFunction('peek');
  assert.equal(peekFn(100), 0x2a);
  a.release();
  a.release();
  const released = { name: 'IsolaError', code: 'USAGE', message: 'instance was released' };
  assert.throws(() => a.invoke('peek', [100]), released);
  assert.throws(() => a.getFunction('peek'), released);
  assert.throws(() => peekFn(100), released);
  assert.throws(() => a.memory, released);
  assert.throws(() => a.exports, released);
  assert.equal(poolOf(compiled)!.size, 1, 'given back once, not twice');
  const b = compiled.instantiate();
  const c = compiled.instantiate();
  assert.notEqual(b.memory, c.memory, 'two live instances never share a memory');
});

test('an instance cannot be released from inside one of its calls', () => {
  const bytes = wat(`(module (import "host" "cb" (func $cb)) (memory 1)
    (func (export "run") (call $cb) (i32.store (i32.const 0) (i32.const 1))))`);
  const compiled = engine().compile(bytes, { reuseMemory: true });
  let inst: Instance | undefined;
  let err: unknown;
  inst = compiled.instantiate({ host: { cb: () => { try { inst!.release(); } catch (e) { err = e; } } } });
  inst.invoke('run');
  assert.ok(err instanceof IsolaError && err.code === 'USAGE');
  assert.equal(poolOf(compiled)!.size, 0);
  inst.release();
  assert.equal(poolOf(compiled)!.size, 1);
});

test(`at most ${MAX_IDLE_MEMORIES} idle memories per module`, () => {
  const compiled = engine().compile(GUEST, { reuseMemory: true });
  const live = Array.from({ length: MAX_IDLE_MEMORIES + 2 }, () => compiled.instantiate());
  for (const i of live) i.release();
  assert.equal(poolOf(compiled)!.size, MAX_IDLE_MEMORIES);
});

test('without release nothing is reused; without reuseMemory there is no pool', () => {
  const compiled = engine().compile(GUEST, { reuseMemory: true });
  const a = compiled.instantiate();
  steal(a, 10, 9);
  const b = compiled.instantiate();
  assert.notEqual(b.memory, a.memory);
  assert.equal(peek(b, 10), 0);
  const plain = engine().compile(GUEST);
  assert.equal(poolOf(plain), null);
  const p = plain.instantiate();
  const mem = p.memory;
  p.release(); // harmless
  assert.notEqual(plain.instantiate().memory, mem);
});

test('modules that do not qualify keep their memory: release reuses nothing', () => {
  for (const src of [`(module (memory (export "memory") ${MAX_POOLED_INITIAL_PAGES * 2}))`, '(module (memory (export "memory") 1 1 shared))']) {
    const compiled = engine().compile(wat(src), { reuseMemory: true, fuel: true, threads: true });
    assert.equal(poolOf(compiled), null, src);
    const a = compiled.instantiate();
    const mem = a.memory!;
    a.release();
    assert.notEqual(compiled.instantiate().memory, mem, src);
  }
});

test('the memory cap holds: memory.grow past maxMemoryBytes returns -1, compiled or per instance', () => {
  const compiled = engine().compile(GUEST, { reuseMemory: true, fuel: true, maxMemoryBytes: 3 * PAGE });
  for (let round = 0; round < 2; round++) {
    const i = compiled.instantiate();
    assert.deepEqual([1, 1, 1].map((n) => i.invoke('grow', [n])[0]), [1, 2, -1]);
    i.release();
  }
  // a tighter limit at instantiation: a recapped variant, still pooling
  const loose = engine().compile(GUEST, { reuseMemory: true });
  const v = loose.instantiate({}, { maxMemoryBytes: 2 * PAGE });
  const mem = v.memory!;
  v.release();
  const w = loose.instantiate({}, { maxMemoryBytes: 2 * PAGE });
  assert.equal(w.memory, mem, 'the variant pools too');
  assert.deepEqual([w.invoke('grow', [1])[0], w.invoke('grow', [1])[0]], [1, -1]);
});

test('fuel counts are identical with and without reuseMemory', () => {
  const run = (reuseMemory: boolean) => {
    const compiled = engine().compile(GUEST, { fuel: true, reuseMemory });
    const out: bigint[] = [];
    for (let k = 0; k < 2; k++) {
      const i = compiled.instantiate({}, { fuel: 1_000_000 });
      i.invoke('sum', [1000]);
      steal(i, 5, 5);
      out.push(i.fuelConsumed);
      i.release();
    }
    return out;
  };
  const a = run(false);
  assert.ok(a[0]! > 1000n);
  assert.deepEqual(run(true), a);
  const hello = new Uint8Array(readFileSync(fromRoot('test', 'fixtures', 'wasi', 'hello.wasm')));
  const wasiFuel = (reuseMemory: boolean) => {
    const compiled = engine().compile(hello, { fuel: true, reuseMemory });
    let inst: Instance | undefined;
    const stdout = new OutputCapture(1 << 16);
    assert.equal(runWasiCommand(compiled, { args: ['hello'], stdout }, { fuel: 10_000_000 }, (i) => { inst = i; }), 0);
    return [inst!.fuelConsumed, stdout.text()] as const;
  };
  assert.deepEqual(wasiFuel(true), wasiFuel(false));
});

test('backtraces with reuseMemory + fuel name the right function at the original offset', () => {
  const NAMED = wat(`(module
    (memory 1)
    (func $lookup_record (param i32) (result i32) (i32.load (i32.mul (local.get 0) (i32.const 4096))))
    (func $handle_request (param i32) (result i32) (i32.add (call $lookup_record (local.get 0)) (i32.const 1)))
    (func $process_data (export "process_data") (param i32) (result i32) (call $handle_request (local.get 0))))`);
  for (const fuel of [false, true]) {
    const compiled = engine().compile(NAMED, { fuel, reuseMemory: true });
    assert.ok(poolOf(compiled));
    const instance = compiled.instantiate();
    let e: unknown;
    try { instance.invoke('process_data', [100]); } catch (x) { e = x; }
    assert.ok(e instanceof IsolaError && e.code === 'TRAP');
    const frames = e.detail.frames as WasmFrame[];
    assert.deepEqual(frames.map((f) => [f.name, f.funcIndex]), [['lookup_record', 0], ['handle_request', 1], ['process_data', 2]]);
    assert.equal(NAMED[frames[0]!.offset], 0x28, 'the i32.load in the ORIGINAL bytes');
  }
});

test('the synthetic import is invisible: info and the LINK error name only the guest\'s imports', () => {
  const bytes = wat('(module (import "env" "f" (func)) (memory 1))');
  const compiled = engine().compile(bytes, { reuseMemory: true, fuel: true });
  assert.ok(poolOf(compiled));
  assert.deepEqual(compiled.info.imports.map((i) => `${i.module}.${i.name}`), ['env.f']);
  assert.deepEqual(compiled.info.memories.map((m) => m.imported), [false]);
  assert.throws(() => compiled.instantiate(), (e: unknown) => e instanceof IsolaError && e.code === 'LINK'
    && e.message === 'cannot instantiate: the module imports env.f (func () -> ()), which was not provided');
  // a guest's own isola namespace is merged, not replaced
  assert.equal(compiled.instantiate({ env: { f() {} }, isola: { other: 1 } }).memory, undefined);
});

test('the compile cache keys on reuseMemory (disk entries hold instrumented bytes), and artifacts carry it', () => {
  const dir = tempDir();
  const first = new Engine({ cacheDir: dir });
  first.compile(GUEST, { fuel: true });
  const second = new Engine({ cacheDir: dir });
  const pooled = second.compile(GUEST, { fuel: true, reuseMemory: true });
  assert.equal(second.stats.diskHits, 0, 'not the entry without the memory import');
  assert.ok(poolOf(pooled));
  assert.equal(pooled.options.importMemory, true);
  const plain = second.compile(GUEST, { fuel: true });
  assert.notEqual(plain, pooled);
  assert.equal(poolOf(plain), null);
  const third = new Engine({ cacheDir: dir });
  const fromDisk = third.compile(GUEST, { fuel: true, reuseMemory: true });
  assert.equal(third.stats.diskHits, 1);
  const fromArtifact = new Engine({ cacheDir: null, keyDir: dir }).loadArtifact(pooled.toArtifact());
  for (const c of [fromDisk, fromArtifact]) {
    const a = c.instantiate();
    const mem = a.memory!;
    assert.equal(peek(a, 100), 0x2a);
    steal(a, 9, 9);
    a.release();
    const b = c.instantiate();
    assert.equal(b.memory, mem);
    assert.equal(peek(b, 9), 0);
  }
});

test('a WASI command run twice through AgentCore gives identical output, on a recycled memory', () => {
  const counter = new Uint8Array(readFileSync(fromRoot('test', 'fixtures', 'wasi', 'counter.wasm')));
  const core = new AgentCore({ preopens: [], cacheDir: null });
  const module = core.load(counter);
  const compiled = (core as unknown as { modules: Map<string, CompiledModule> }).modules.get(module)!;
  assert.ok(poolOf(compiled), 'AgentCore compiles with reuseMemory');
  const run = () => {
    const r = core.invoke({ module, kind: 'wasi', args: ['counter'] });
    return [r.exitCode, new TextDecoder().decode(r.output), new TextDecoder().decode(r.stderr)];
  };
  const one = run();
  assert.equal(poolOf(compiled)!.size, 1, 'runWasiCommand released the instance');
  const two = run();
  assert.deepEqual(one, [0, 'runs in memory: 1\n', '']);
  assert.deepEqual(two, one);
  assert.equal(poolOf(compiled)!.size, 1);
});

test('AgentCore: invoke releases; buffer releases only when the output was copied', () => {
  const COPY = wat(`(module
    (memory (export "memory") 1)
    (func (export "get_buffer_ptr") (result i32) (i32.const 0))
    (func (export "process_data") (param i32) (result i32) (local.get 0))
    (func (export "seven") (result i32) (i32.const 7)))`);
  const input = new TextEncoder().encode('secret input');
  for (const views of [false, true]) {
    const core = new AgentCore({ preopens: [], cacheDir: null }, undefined, views);
    const module = core.load(COPY);
    const pool = poolOf((core as unknown as { modules: Map<string, CompiledModule> }).modules.get(module)!)!;
    assert.deepEqual(core.invoke({ module, kind: 'invoke', export: 'seven' }).values, ['7']);
    assert.equal(pool.size, 1);
    const out = core.invoke({ module, kind: 'buffer', input }).output!;
    assert.deepEqual([...out], [...input]);
    assert.equal(pool.size, views ? 0 : 1, views ? 'a view stays with its memory' : 'copied: released');
    // the output is intact after later invocations reuse whatever memory was released
    core.invoke({ module, kind: 'buffer', input: new Uint8Array(input.length) });
    assert.deepEqual([...out], [...input]);
    const opened = core.openBuffer({ module, kind: 'buffer' });
    opened.abandon();
  }
});
