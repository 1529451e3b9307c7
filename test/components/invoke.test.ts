// `isola run --invoke` on components (as `wasmtime run --invoke`): WAVE arguments typed by the export's WIT
// signature, the result in WAVE, functions found at the world level or in exported interfaces; and
// `isola inspect` listing every export and import with its WIT type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnIsola } from '../wasi/helpers.js';
import { componentBytes, componentFixture, compileComponentFixture } from './helpers.js';
import { invokeWave } from '../../src/engine/component/invoke-wave.js';
import { readComponentTypes } from '../../src/wasm/component/read-types.js';
import { IsolaError } from '../../src/index.js';

const TYPES = componentFixture('types');

test('cli: a call per WIT type round-trips through the component, printed in WAVE', () => {
  const calls: Array<[string, string]> = [
    ['add(40, 2)', '42'],
    ['echo-u64(18446744073709551615)', '18446744073709551615'],
    ['echo-string("tab\\there \\"q\\" \\u{1f600}")', '"tab\\there \\"q\\" 😀"'],
    ['echo-list([1, 2, 3])', '[1, 2, 3]'],
    ['echo-option(7)', 'some(7)'],
    ['echo-result(err("bad"))', 'err("bad")'],
    ['echo-point({label: "p", y: 2, x: -1})', '{x: -1, y: 2, label: "p"}'],
    ['echo-shape(rect({x: 1, y: 2, label: "r"}))', 'rect({x: 1, y: 2, label: "r"})'],
    ['echo-perms({exec, read})', '{read, exec}'],
    ['divide(1, 0)', 'err("division by zero")'],
    ['test:types/kinds#echo-s8(-128)', '-128'],
    ['kinds#echo-f64(-inf)', '-inf'],
  ];
  for (const [call, want] of calls) {
    const r = spawnIsola(['run', '--invoke', call, TYPES]);
    assert.equal(r.stderr, '', call);
    assert.equal(r.stdout, `${want}\n`, call);
    assert.equal(r.code, 0);
  }
  const none = spawnIsola(['run', '--invoke', 'spin()', '--fuel', '100000', componentFixture('hostile')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^error: fuel exhausted/);
});

test('cli: a bad call is one error line naming the parameter and its WIT type, exit 1', () => {
  const bad: Array<[string, RegExp]> = [
    ['echo-u8(256)', /^error: argument 1 \(v: u8\) of test:types\/kinds#echo-u8: 256 does not fit u8/],
    ['echo-point({x: 1})', /^error: argument 1 \(v: point\) of test:types\/kinds#echo-point: field 'y' of point is missing/],
    ['add(1)', /^error: missing argument 2 \(b: u32\): add: func\(a: u32, b: u32\) -> u32/],
    ['add(1, 2, 3)', /^error: add: too many arguments/],
    ['nope()', /^error: the component exports no function nope; it exports add: func/],
    ['add', /^error: --invoke takes a call like 'add\(1, 2\)'/],
  ];
  for (const [call, re] of bad) {
    const r = spawnIsola(['run', '--invoke', call, TYPES]);
    assert.equal(r.code, 1, `${call}: ${r.stderr}`);
    assert.match(r.stderr, re, call);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
});

test('library: invokeWave over an instance\'s exports; an ambiguous bare name asks for the interface', async () => {
  const c = await compileComponentFixture('types');
  assert.ok(c.types !== null);
  const { exports } = c.instantiate({});
  assert.equal(invokeWave(c.types.exports, exports, 'echo-color(blue)'), 'blue');
  assert.equal(invokeWave(c.types.exports, exports, 'echo-tuple((7, "x"))'), '(7, "x")');
  const twice = { functions: new Map(), interfaces: new Map([['a:b/one', c.types.exports.interfaces.get('test:types/kinds')!], ['a:b/two', c.types.exports.interfaces.get('test:types/kinds')!]]) };
  assert.throws(() => invokeWave(twice, exports, 'echo-u8(1)'), (e: unknown) => e instanceof IsolaError && /ambiguous: name one of a:b\/one#echo-u8, a:b\/two#echo-u8/.test(e.message));
});

test('inspect lists every export and import with its WIT type', () => {
  const r = spawnIsola(['inspect', TYPES]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^exports:$/m);
  assert.match(r.stdout, /^ {2}add: func\(a: u32, b: u32\) -> u32$/m);
  assert.match(r.stdout, /^ {2}test:types\/kinds$/m);
  assert.match(r.stdout, /^ {4}echo-shape: func\(v: shape\) -> shape$/m);
  assert.match(r.stdout, /^ {4}divide: func\(a: u32, b: u32\) -> result<u32, string>$/m);
  const cat = JSON.parse(spawnIsola(['inspect', '--json', componentFixture('cmd-cat')]).stdout) as { imports: { interfaces: Record<string, string[]> } };
  const fs = Object.entries(cat.imports.interfaces).find(([i]) => i.startsWith('wasi:filesystem/types@'))![1];
  assert.ok(fs.includes('[method]descriptor.open-at: func(self: borrow<descriptor>, path-flags: path-flags, path: string, open-flags: open-flags, flags: descriptor-flags) -> result<descriptor, error-code>'), fs.join('\n'));
});

test('the type reader refuses malformed components with one DECODE line and bounds hostile nesting', () => {
  const bytes = componentBytes('types');
  for (const cut of [12, 100, bytes.length - 5]) {
    assert.throws(() => readComponentTypes(bytes.subarray(0, cut)), (e: unknown) => e instanceof IsolaError && e.code === 'DECODE' && !e.message.includes('\n'), `cut at ${cut}`);
  }
  // A component section nested 40 deep (each one a preamble and the next): refused, not a stack overflow.
  let inner = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
  for (let i = 0; i < 40; i++) {
    const size = inner.length;
    const lebSize = size < 128 ? [size] : [(size & 0x7f) | 0x80, size >> 7];
    // section 4 (component) holding `inner`, then section 5: an instance of component 0
    const body = [4, ...lebSize, ...inner, 5, 4, 1, 0, 0, 0];
    inner = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, ...body]);
  }
  assert.throws(() => readComponentTypes(inner), (e: unknown) => e instanceof IsolaError && e.code === 'DECODE' && /nested too deeply/.test(e.message));
});
