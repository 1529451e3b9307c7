import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRoot } from '../helpers/root.js';
import { tempDir, wasmFile } from '../engine/wat.js';
import { isola } from './support.js';

const MODULE = wasmFile(`(module
  (import "env" "log" (func $log (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2 16)
  (table (export "table") 3 funcref)
  (func (export "_start"))
  (func (export "add") (param i32 i64) (result f64) (f64.const 0)))`);

test('inspect: kind, imports, exports with signatures, memories and tables with limits, custom sections', () => {
  const r = isola(['inspect', MODULE]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /WASI command/);
  assert.match(out, /^imports \(2\):$/m);
  assert.match(out, /^ {2}env\.log\s+func\s+\(i32\) -> \(\)$/m);
  assert.match(out, /^ {2}wasi_snapshot_preview1\.fd_write\s+func\s+\(i32, i32, i32, i32\) -> i32$/m);
  assert.match(out, /^ {2}add\s+func\s+\(i32, i64\) -> f64$/m);
  assert.match(out, /^ {2}_start\s+func\s+\(\) -> \(\)$/m);
  assert.match(out, /^ {2}0\s+initial 2 pages \(128 KiB\), maximum 16 pages \(1 MiB\)$/m);
  assert.match(out, /^ {2}0\s+funcref\s+initial 3, maximum none$/m);
  assert.match(out, /^custom sections \(1\):$/m);
  assert.match(out, /^ {2}name\s+\d+ bytes$/m);
});

test('inspect --json is the ModuleInfo, parseable', () => {
  const r = isola(['inspect', '--json', MODULE]);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.kind, 'module');
  assert.equal(info.wasi, 'command');
  assert.deepEqual(info.exports.find((e: { name: string }) => e.name === 'add').sig, { params: ['i32', 'i64'], results: ['f64'] });
  assert.deepEqual(info.memories[0], { index: 0, imported: false, initialPages: 2, maximumPages: 16, shared: false, memory64: false });
  assert.equal(info.functionNames['0'], 'log');
});

test('inspect tells a reactor, a plain module and a component apart', () => {
  const reactor = wasmFile(`(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (func (export "_initialize")))`);
  assert.match(isola(['inspect', reactor]).stdout, /WASI reactor/);
  assert.match(isola(['inspect', fromRoot('examples', 'is-thirteen.wasm')]).stdout, /plain module/);
  const component = wasmFile(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]));
  const r = isola(['inspect', component]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /component/);
  assert.equal(JSON.parse(isola(['inspect', '--json', component]).stdout).kind, 'component');
});

test('inspect of an artifact shows the module and its instrumentation', () => {
  const out = `${tempDir()}/m.isolart`;
  assert.equal(isola(['compile', '--fuel', '--max-memory', '1MiB', MODULE, '-o', out]).status, 0);
  const r = isola(['inspect', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /isola artifact: fuel metering yes, memory cap 1 MiB/);
});
