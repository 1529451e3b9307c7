// inspect(): the interface summary the CLI and the engine read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSig, inspect } from '../../src/wasm/index.js';
import { wat } from './wat.js';

test('formatSig', () => {
  assert.equal(formatSig({ params: ['i32', 'i32'], results: ['i32'] }), '(i32, i32) -> i32');
  assert.equal(formatSig({ params: [], results: [] }), '() -> ()');
  assert.equal(formatSig({ params: ['f64'], results: ['i32', 'i64'] }), '(f64) -> (i32, i64)');
});

const SAMPLE = wat(
  `(module $sample
    (import "env" "log" (func $log (param i32)))
    (import "env" "mem" (memory 1 16))
    (import "env" "g" (global $g i64))
    (import "env" "tab" (table 2 funcref))
    (tag $oops (export "oops") (param i32))
    (memory $own 2)
    (table $t2 1 5 externref)
    (global $count (export "count") (mut i32) (i32.const 0))
    (func $main (export "main") (param f32 i64) (result i32 f64) (i32.const 0) (f64.const 1))
    (func $init (global.set $count (i32.const 1)))
    (start $init)
    (export "memory" (memory 1))
    (export "table" (table $t2))
  )`,
  { names: true },
);

test('imports, exports, signatures and types', () => {
  const info = inspect(SAMPLE);
  assert.equal(info.kind, 'module');
  assert.equal(info.size, SAMPLE.length);
  assert.deepEqual(
    info.imports.map((i) => [i.module, i.name, i.kind, i.type]),
    [
      ['env', 'log', 'func', '(i32) -> ()'],
      ['env', 'mem', 'memory', '1..16 pages'],
      ['env', 'g', 'global', 'i64'],
      ['env', 'tab', 'table', 'funcref 2'],
    ],
  );
  assert.deepEqual(info.imports[0].sig, { params: ['i32'], results: [] });
  const byName = new Map(info.exports.map((e) => [e.name, e]));
  assert.deepEqual(byName.get('main'), { name: 'main', kind: 'func', index: 1, sig: { params: ['f32', 'i64'], results: ['i32', 'f64'] }, type: '(f32, i64) -> (i32, f64)' });
  assert.equal(byName.get('count')?.type, 'mut i32');
  assert.equal(byName.get('oops')?.type, '(i32) -> ()');
  assert.equal(byName.get('memory')?.type, '2 pages');
  assert.equal(byName.get('table')?.type, 'externref 1..5');
});

test('memories, tables, globals, functions, start, names', () => {
  const info = inspect(SAMPLE);
  assert.deepEqual(info.memories, [
    { index: 0, imported: true, initialPages: 1, maximumPages: 16, shared: false, memory64: false },
    { index: 1, imported: false, initialPages: 2, maximumPages: null, shared: false, memory64: false },
  ]);
  assert.deepEqual(info.tables, [
    { index: 0, imported: true, elemType: 'funcref', initial: 2, maximum: null },
    { index: 1, imported: false, elemType: 'externref', initial: 1, maximum: 5 },
  ]);
  assert.equal(info.globals, 2);
  assert.deepEqual(info.functions, { imported: 1, defined: 2 });
  assert.equal(info.start, 2);
  assert.deepEqual(info.customSections.map((c) => c.name), ['name']);
  assert.deepEqual([...info.functionNames], [[0, 'log'], [1, 'main'], [2, 'init']]);
  assert.equal(info.wasi, null);
});

test('wasi: command, reactor, or neither', () => {
  const cmd = wat(`(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (func (export "_start")))`);
  assert.equal(inspect(cmd).wasi, 'command');
  const reactor = wat(`(module (func (export "_initialize")))`);
  assert.equal(inspect(reactor).wasi, 'reactor');
  const importsOnly = wat(`(module (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32))))`);
  assert.equal(inspect(importsOnly).wasi, 'reactor');
  assert.equal(inspect(wat(`(module (func (export "run")))`)).wasi, null);
});

test('shared and 64-bit memories', () => {
  const shared = inspect(wat(`(module (memory 1 4 shared))`));
  assert.deepEqual(shared.memories[0], { index: 0, imported: false, initialPages: 1, maximumPages: 4, shared: true, memory64: false });
  // memory64 by hand: memory section, one memory, flags 0x05 (max, 64-bit), min 1, max 2^33
  const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 8, 1, 0x05, 1, 0x80, 0x80, 0x80, 0x80, 0x20]);
  assert.deepEqual(inspect(bytes).memories[0], { index: 0, imported: false, initialPages: 1, maximumPages: 2 ** 33, shared: false, memory64: true });
});

test('a module with no sections', () => {
  const info = inspect(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  assert.equal(info.kind, 'module');
  assert.deepEqual(info.imports, []);
  assert.deepEqual(info.functions, { imported: 0, defined: 0 });
  assert.equal(info.functionNames.size, 0);
});
