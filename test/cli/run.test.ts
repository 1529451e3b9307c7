import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, fromRoot } from '../helpers/root.js';
import { tempDir, wasmFile } from '../engine/wat.js';
import { assertFails, isola } from './support.js';

const IS_THIRTEEN = fromRoot('examples', 'is-thirteen.wasm');

const VALUES = wasmFile(`(module
  (func (export "is_thirteen") (param i32) (result i32) (i32.eq (local.get 0) (i32.const 13)))
  (func (export "neg") (param i64) (result i64) (i64.sub (i64.const 0) (local.get 0)))
  (func (export "half") (param f32) (result f32) (f32.div (local.get 0) (f32.const 2)))
  (func (export "sqrt") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "pair") (param i32) (result i32 i32) (local.get 0) (i32.const -1))
  (func (export "nothing"))
  (func (export "echo") (param i32) (result i32) (local.get 0)))`);

const LOOP = wasmFile(`(module
  (memory (export "memory") 1)
  (func (export "spin") (loop $l (br $l)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);

const TRAP = wasmFile(`(module
  (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $process_data (export "process_data") (param i32) (result i32) (call $inner (local.get 0))))`);

test('the README quickstart: is_thirteen 13 prints 1', () => {
  const r = isola(['run', '--invoke', 'is_thirteen', IS_THIRTEEN, '13']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1\n');
  assert.equal(r.stderr, '');
});

test('arguments: range edges, hex, floats; results one per line', () => {
  const cases: Array<[string, string[], string]> = [
    ['is_thirteen', ['0xd'], '1'],
    ['echo', ['4294967295'], '-1'],
    ['echo', ['2147483648'], '-2147483648'],
    ['echo', ['-0x80000000'], '-2147483648'],
    ['neg', ['9223372036854775807'], '-9223372036854775807'],
    ['neg', ['18446744073709551615'], '1'],
    ['half', ['0.2'], '0.1'],
    ['half', ['-inf'], '-inf'],
    ['sqrt', ['2'], '1.4142135623730951'],
    ['sqrt', ['nan'], 'nan'],
    ['pair', ['7'], '7\n-1'],
    ['nothing', [], ''],
  ];
  for (const [name, args, out] of cases) {
    const r = isola(['run', '--invoke', name, VALUES, ...args]);
    assert.equal(r.status, 0, `${name} ${args}: ${r.stderr}`);
    assert.equal(r.stdout, out ? `${out}\n` : '', `${name} ${args.join(' ')}`);
  }
});

test('argument errors name the value, the type and the parameter', () => {
  assertFails(isola(['run', '--invoke', 'is_thirteen', VALUES, '4294967296']), '4294967296 does not fit i32 (parameter 1 of is_thirteen)', { status: 1 });
  assertFails(isola(['run', '--invoke', 'is_thirteen', VALUES]), 'is_thirteen takes 1 argument but 0 were given (is_thirteen: (i32) -> i32)');
  assertFails(isola(['run', '--invoke', 'missing', VALUES]), /^error: no export named 'missing'; the module exports: is_thirteen: \(i32\) -> i32, neg: \(i64\) -> i64, /);
});

test('guest arguments after FILE are not isola options', () => {
  // `-1` and `--fuel` after the file belong to the export, not to isola.
  assert.equal(isola(['run', '--invoke', 'echo', VALUES, '-1']).stdout, '-1\n');
  assertFails(isola(['run', '--invoke', 'echo', VALUES, '--fuel']), '--fuel is not a valid i32 (parameter 1 of echo)');
});

test('--fuel, -W fuel=: exhaustion is one line and exit 1', () => {
  for (const flags of [['--fuel', '1000000'], ['-W', 'fuel=1000000'], ['-W', 'timeout=1m,fuel=1000000']]) {
    const r = isola(['run', ...flags, '--invoke', 'spin', LOOP]);
    assertFails(r, 'fuel exhausted after 1000000 units', { status: 1 });
    assert.equal(r.stdout, '');
  }
});

test('--timeout interrupts an infinite loop, and -W timeout= is the same', () => {
  for (const flags of [['--timeout', '500ms'], ['-W', 'timeout=500ms']]) {
    const r = isola(['run', ...flags, '--invoke', 'spin', LOOP]);
    assertFails(r, 'timed out after 500ms', { status: 1 });
    assert.ok(r.ms < 5000, `took ${r.ms.toFixed(0)}ms`);
  }
});

test('--max-memory caps growth; -W max-memory-size= is the same', () => {
  assert.equal(isola(['run', '--max-memory', '128KiB', '--invoke', 'grow', LOOP, '1']).stdout, '1\n');
  assert.equal(isola(['run', '--max-memory', '128KiB', '--invoke', 'grow', LOOP, '2']).stdout, '-1\n');
  assert.equal(isola(['run', '-W', 'max-memory-size=131072', '--invoke', 'grow', LOOP, '2']).stdout, '-1\n');
  assert.equal(isola(['run', '--invoke', 'grow', LOOP, '2']).stdout, '1\n');
  assertFails(isola(['run', '--max-memory', '32KiB', '--invoke', 'grow', LOOP, '1']), /memory/, { status: 1 });
});

test('tables are capped by default; --max-table-elements and -W max-table-elements= lower the cap', () => {
  const grower = wasmFile('(module (table $t 1 externref) (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null extern) (local.get 0))))');
  assert.equal(isola(['run', '--invoke', 'grow', grower, '99999']).stdout, '1\n');
  assert.equal(isola(['run', '--invoke', 'grow', grower, '100000']).stdout, '-1\n');
  assert.equal(isola(['run', '--max-table-elements', '10', '--invoke', 'grow', grower, '9']).stdout, '1\n');
  assert.equal(isola(['run', '-W', 'max-table-elements=5', '--invoke', 'grow', grower, '9']).stdout, '-1\n');
  assertFails(isola(['run', '--max-table-elements', '0', '--invoke', 'grow', grower, '1']), 'table 0 starts at 1 elements, above the cap of 0 elements', { status: 1 });
  assertFails(isola(['run', '--max-table-elements', 'x', '--invoke', 'grow', grower, '1']), /invalid table element limit 'x'/, { status: 2, usage: true });
});

test('a trap is one line; --backtrace and ISOLA_BACKTRACE=1 add named frames', () => {
  assertFails(isola(['run', '--invoke', 'process_data', TRAP, '0']), 'wasm trap: integer divide by zero', { status: 1 });
  for (const [flags, env] of [[['--backtrace'], {}], [[], { ISOLA_BACKTRACE: '1' }]] as const) {
    const r = isola(['run', ...flags, '--invoke', 'process_data', TRAP, '0'], { env });
    assert.equal(r.status, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'error: wasm trap: integer divide by zero');
    assert.equal(lines[1], 'wasm backtrace:');
    assert.match(lines[2]!, /^ {2}at inner \(func 0, offset 0x[0-9a-f]+\)$/);
    assert.match(lines[3]!, /^ {2}at process_data \(func 1, offset 0x[0-9a-f]+\)$/);
    assert.doesNotMatch(r.stderr, /\.js:\d+/);
  }
});

test('--buffer: stdin through the guest buffer to stdout, refusing what does not fit', () => {
  const reverse = fromRoot('examples', 'reverse.wasm');
  const r = isola(['run', '--buffer', 'process_data', reverse], { input: 'hello' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'olleh');
  const big = isola(['run', '--buffer', 'process_data', reverse], { input: new Uint8Array((1 << 20) + 1) });
  assertFails(big, `input of ${(1 << 20) + 1} bytes does not fit the guest buffer of ${1 << 20} bytes`, { status: 1 });
  assert.equal(big.stdout, '');
});

test('a module without _start and without --invoke is told what it can call', () => {
  assertFails(isola(['run', VALUES]), /is not a WASI command \(it exports no _start\); call one of its exports with --invoke NAME: is_thirteen, neg,/, { usage: true, status: 2 });
});

test('WASI commands run, with their exit code', () => {
  const exit7 = fromRoot('test', 'fixtures', 'wasi', 'exit7.wasm');
  const hello = fromRoot('test', 'fixtures', 'wasi', 'hello.wasm');
  const h = isola(['run', hello]);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /hello/);
  assert.equal(isola(['run', exit7]).status, 7);
  assert.equal(isola(['run', '--fuel', '100000000', '--timeout', '10s', hello]).status, 0);
});

test('limits apply to a WASI command\'s _start too', () => {
  const spin = wasmFile(`(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))`);
  assertFails(isola(['run', '--timeout', '300ms', spin]), 'timed out after 300ms', { status: 1 });
  assertFails(isola(['run', '--fuel', '5000', spin]), 'fuel exhausted after 5000 units', { status: 1 });
});

const PREOPENS = wasmFile(`(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 300) "\\n")
  ;; prints the name of every preopen, fd 3 upwards, one per line
  (func (export "_start") (local $fd i32)
    (local.set $fd (i32.const 3))
    (block $done (loop $next
      (br_if $done (call $get (local.get $fd) (i32.const 0)))
      (drop (call $name (local.get $fd) (i32.const 100) (i32.load (i32.const 4))))
      (i32.store (i32.const 200) (i32.const 100)) (i32.store (i32.const 204) (i32.load (i32.const 4)))
      (i32.store (i32.const 208) (i32.const 300)) (i32.store (i32.const 212) (i32.const 1))
      (drop (call $write (i32.const 1) (i32.const 200) (i32.const 2) (i32.const 400)))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $next)))))`);

test('preopens are numbered in command-line order, --dir and --dir-ro alike', () => {
  const [a, b, c] = [tempDir(), tempDir(), tempDir()];
  const r = isola(['run', '--dir-ro', `${a}::/ro`, '--dir', `${b}::/rw`, '--dir-ro', `${c}::/ro2`, PREOPENS]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '/ro\n/rw\n/ro2\n');
});

test('--env gives exactly what is named; --dir grants a directory', () => {
  const env = fromRoot('test', 'fixtures', 'wasi', 'env.wasm');
  const r = isola(['run', '--env', 'GREETING=hi', env], { env: { SECRET: 'x' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /GREETING=hi/);
  assert.doesNotMatch(r.stdout, /SECRET/);
  assertFails(isola(['run', '--env', 'ISOLA_TEST_UNSET_VARIABLE', env]), /not set in isola's environment/, { usage: true, status: 2 });
  assertFails(isola(['run', '--dir', '/definitely/not/here', env]), /does not exist/, { usage: true, status: 2 });
});

test('a reader that goes away early (| head) is not a crash', () => {
  const reverse = fromRoot('examples', 'reverse.wasm');
  const r = spawnSync('bash', ['-c', `head -c 1000000 /dev/zero | "${process.execPath}" "${CLI}" run --buffer process_data "${reverse}" | head -c 1 >/dev/null; echo "status \${PIPESTATUS[1]}" >&2`], {
    env: { ...process.env, ISOLA_CACHE_DIR: tempDir() },
  });
  const stderr = r.stderr.toString();
  assert.equal(stderr.trim(), 'status 0', stderr);
});
