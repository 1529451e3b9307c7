// WAVE text for every WIT type: printing and parsing are each other's inverse, escapes and special floats
// included, and every malformed input is one BAD_ARGS error that says where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/index.js';
import { parseWave, printWave } from '../../src/engine/component/wave.js';
import type { WitType } from '../../src/wasm/component/types.js';

const point: WitType = { kind: 'record', name: 'point', fields: [['x', { kind: 's32' }], ['label', { kind: 'string' }], ['tag', { kind: 'option', of: { kind: 'u8' } }]] };
const shape: WitType = { kind: 'variant', name: 'shape', cases: [['circle', { kind: 'f64' }], ['rect', point], ['empty', null], ['ok', null]] };

/** [type, WAVE text as printed, other spellings that parse to the same value] */
const CASES: Array<[WitType, string, string[]]> = [
  [{ kind: 'bool' }, 'true', [' true ']],
  [{ kind: 'u8' }, '255', []],
  [{ kind: 's8' }, '-128', []],
  [{ kind: 'u16' }, '65535', []],
  [{ kind: 's16' }, '-32768', []],
  [{ kind: 'u32' }, '4294967295', []],
  [{ kind: 's32' }, '-2147483648', []],
  [{ kind: 'u64' }, '18446744073709551615', []],
  [{ kind: 's64' }, '-9223372036854775808', []],
  [{ kind: 'f32' }, '0.1', []],
  [{ kind: 'f64' }, '6.022e+23', ['6.022e23', '602200000000000000000000']],
  [{ kind: 'f64' }, 'nan', []],
  [{ kind: 'f64' }, 'inf', []],
  [{ kind: 'f64' }, '-inf', []],
  [{ kind: 'f64' }, '-0', []],
  [{ kind: 'char' }, "'x'", []],
  [{ kind: 'char' }, "'\\''", ["'\\u{27}'"]],
  [{ kind: 'char' }, "'☃'", ["'\\u{2603}'"]],
  [{ kind: 'char' }, "'😀'", ["'\\u{1f600}'"]],
  [{ kind: 'string' }, '"abc\\t123\\n\\"q\\" \\\\ \\u{0}é"', ['"abc\\u{9}123\\u{a}\\"q\\u{22} \\\\ \\u{0}\\u{e9}"']],
  [{ kind: 'string' }, '""', []],
  [{ kind: 'list', of: { kind: 'u32' } }, '[1, 2, 3]', ['[1,2,3,]', '[ 1 , 2 , 3 ]']],
  [{ kind: 'list', of: { kind: 'string' } }, '[]', []],
  [{ kind: 'list', of: { kind: 's64' } }, '[-1, 0]', []],
  [{ kind: 'tuple', of: [{ kind: 'u8' }, { kind: 'string' }] }, '(1, "a")', ['(1, "a",)']],
  [point, '{x: -5, label: "p", tag: none}', ['{label: "p", x: -5}', '{%x: -5, label: "p", tag: none,}']],
  [point, '{x: 1, label: "", tag: some(3)}', ['{x: 1, label: "", tag: 3}']],
  [shape, 'circle(1.5)', []],
  [shape, 'rect({x: 0, label: "r", tag: none})', []],
  [shape, 'empty', []],
  [shape, '%ok', []],
  [{ kind: 'enum', cases: ['red', 'green', 'none'] }, 'green', []],
  [{ kind: 'enum', cases: ['red', 'green', 'none'] }, '%none', []],
  [{ kind: 'flags', names: ['read', 'write', 'exec'] }, '{read, exec}', ['{exec, read,}']],
  [{ kind: 'flags', names: ['read', 'write'] }, '{}', []],
  [{ kind: 'option', of: { kind: 'string' } }, 'some("x")', ['"x"']],
  [{ kind: 'option', of: { kind: 'string' } }, 'none', []],
  [{ kind: 'option', of: { kind: 'option', of: { kind: 'u8' } } }, 'some(none)', []],
  [{ kind: 'option', of: { kind: 'option', of: { kind: 'u8' } } }, 'some(some(1))', ['some(1)']],
  [{ kind: 'result', ok: { kind: 'u8' }, err: { kind: 'string' } }, 'ok(1)', ['1']],
  [{ kind: 'result', ok: { kind: 'u8' }, err: { kind: 'string' } }, 'err("oops")', []],
  [{ kind: 'result', ok: null, err: null }, 'ok', []],
  [{ kind: 'result', ok: null, err: null }, 'err', []],
  [{ kind: 'list', of: { kind: 'option', of: { kind: 'result', ok: { kind: 'bool' }, err: null } } }, '[some(ok(true)), none, some(err)]', ['[// a comment\n some(ok(true)), none, some(err)]']],
];

test('every type: print(parse(text)) is the canonical text, and other spellings parse to the same value', () => {
  for (const [type, text, others] of CASES) {
    const v = parseWave(text, type);
    assert.equal(printWave(type, v), text, `round trip of ${text}`);
    for (const o of others) assert.equal(printWave(type, parseWave(o, type)), text, `${o} reads as ${text}`);
  }
});

test('values are in the shape jco takes: bigint for 64-bit, typed arrays for numeric lists, camelCase keys, tags', () => {
  assert.equal(parseWave('7', { kind: 'u64' }), 7n);
  assert.ok(parseWave('[1]', { kind: 'list', of: { kind: 'u8' } }) instanceof Uint8Array);
  assert.ok(parseWave('[1]', { kind: 'list', of: { kind: 'f32' } }) instanceof Float32Array);
  assert.deepEqual(parseWave('{field-a: 1}', { kind: 'record', fields: [['field-a', { kind: 'u8' }]] }), { fieldA: 1 });
  assert.deepEqual(parseWave('rect({x: 1, label: "", tag: none})', shape), { tag: 'rect', val: { x: 1, label: '', tag: undefined } });
  assert.deepEqual(parseWave('{write}', { kind: 'flags', names: ['read', 'write'] }), { read: false, write: true });
  assert.equal(Math.fround(0.1), parseWave('0.1', { kind: 'f32' }));
});

test('errors: one BAD_ARGS line naming the column and what was expected', () => {
  const bad: Array<[WitType, string, RegExp]> = [
    [{ kind: 'u8' }, '256', /256 does not fit u8 \(0 to 255\) \(at column 1/],
    [{ kind: 'u8' }, '1.5', /expected u8 \(an integer\)/],
    [{ kind: 's32' }, '', /expected s32 \(an integer\), found the end/],
    [{ kind: 'bool' }, 'yes', /expected bool \(true or false\), found 'yes'/],
    [{ kind: 'char' }, "'ab'", /exactly one Unicode scalar value/],
    [{ kind: 'char' }, "'\\u{d800}'", /invalid \\u\{...\} escape/],
    [{ kind: 'string' }, '"abc', /unterminated string \(at column 1/],
    [{ kind: 'string' }, '"a\\qb"', /invalid escape \\q \(at column 3/],
    [{ kind: 'string' }, '"a\nb"', /newline inside a string/],
    [{ kind: 'list', of: { kind: 'u8' } }, '[1 2]', /expected ',' or '\]', found '2' \(at column 4/],
    [{ kind: 'tuple', of: [{ kind: 'u8' }] }, '(1, 2)', /too many elements/],
    [point, '{x: 1}', /field 'label' of point is missing/],
    [point, '{x: 1, x: 2, label: ""}', /field 'x' given twice/],
    [point, '{y: 1}', /point has no field 'y' \(fields: x, label, tag\)/],
    [shape, 'ok', /expected a case of shape \(circle, rect, empty, %ok\), found 'ok'/],
    [shape, 'empty(1)', /case 'empty' has no payload/],
    [{ kind: 'enum', cases: ['a'] }, 'b', /expected a case of enum \{ a \}/],
    [{ kind: 'flags', names: ['r'] }, '{w}', /has no flag 'w'/],
    [{ kind: 'option', of: { kind: 'option', of: { kind: 'u8' } } }, '1', /some\(...\) or none/],
    [{ kind: 'result', ok: null, err: { kind: 'u8' } }, '1', /ok\(...\) or err\(...\)/],
    [{ kind: 'u8' }, '1 2', /unexpected '2' after the value \(at column 3/],
    [{ kind: 'own', resource: { kind: 'resource', name: 'file' } }, '1', /a file cannot be written in WAVE/],
  ];
  for (const [type, text, re] of bad) {
    assert.throws(() => parseWave(text, type, 'argument 1 (v)'), (e: unknown) => e instanceof IsolaError && e.code === 'BAD_ARGS'
      && re.test(e.message) && e.message.startsWith('argument 1 (v): ') && !e.message.includes('\n'), `${JSON.stringify(text)} should fail with ${re}`);
  }
});
