import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../helpers/root.js';
import { tempDir, wasmFile } from '../engine/wat.js';
import { assertFails, isola } from './support.js';

const IS_THIRTEEN = fromRoot('examples', 'is-thirteen.wasm');
const valid = new Uint8Array(readFileSync(IS_THIRTEEN));

function randomBytes(n: number, seed = 42): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const BAD_MODULES: Record<string, Uint8Array> = {
  'empty file': new Uint8Array(0),
  'truncated module': valid.subarray(0, valid.length - 5),
  'header only, cut short': valid.subarray(0, 6),
  'random bytes': randomBytes(4096),
  'valid header, corrupt section': new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0x05, 0x01, 0x60, 0x07, 0x7f, 0x00]),
  'a section claiming 2^32 entries': new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0x06, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x60]),
  'a function body of 2^32 locals': new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
    0x0a, 0x0a, 0x01, 0x08, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b]),
};

for (const [what, bytes] of Object.entries(BAD_MODULES)) {
  test(`bad module: ${what} → one error line, exit 1, for run, inspect and compile`, () => {
    const file = wasmFile(bytes);
    assertFails(isola(['run', '--invoke', 'f', file]), /^error: /, { status: 1 });
    assertFails(isola(['run', '--fuel', '1000', file]), /^error: /, { status: 1 });
    assertFails(isola(['compile', file, '-o', `${tempDir()}/out.isolart`]), /^error: /, { status: 1 });
    assertFails(isola(['inspect', file]), /^error: /, { status: 1 });
  });
}

// An empty component is valid: it runs as nothing (no wasi:cli/run) and compiles as no core module.
test('a component where a command or a core module is expected is named as such', () => {
  const empty = wasmFile(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]));
  assertFails(isola(['run', empty]), /^error: the component is not a command/, { status: 2, usage: true });
  assertFails(isola(['run', '--invoke', 'f()', empty]), /^error: the component exports no function f; it exports no functions$/, { status: 1 });
  const out = `${tempDir()}/out.isolart`;
  assert.equal(isola(['compile', empty, '-o', out]).status, 0, 'a component compiles to an artifact');
  assertFails(isola(['run', out]), /^error: the component is not a command/, { status: 2, usage: true });
});

test('missing file, a directory instead of a file', () => {
  assertFails(isola(['run', 'no/such/file.wasm']), 'cannot read no/such/file.wasm: no such file', { status: 1 });
  assertFails(isola(['inspect', tempDir()]), /^error: cannot read .*: is a directory$/, { status: 1 });
});

const USAGE_ERRORS: Array<[string, string[], RegExp]> = [
  ['--max-memory 0', ['run', '--max-memory', '0', IS_THIRTEEN], /invalid memory limit '0'/],
  ['--max-memory nonsense', ['run', '--max-memory', 'lots', IS_THIRTEEN], /invalid memory limit 'lots'/],
  ['negative fuel', ['run', '--fuel', '-5', IS_THIRTEEN], /invalid fuel '-5'/],
  ['fractional fuel', ['run', '--fuel', '1.5', IS_THIRTEEN], /invalid fuel '1.5'/],
  ['bad duration', ['run', '--timeout', 'soon', IS_THIRTEEN], /invalid timeout 'soon'/],
  ['duration without unit', ['run', '--timeout', '500', IS_THIRTEEN], /invalid timeout '500'/],
  ['unknown -W key', ['run', '-W', 'epochs=1', IS_THIRTEEN], /unknown -W option 'epochs'/],
  ['-W without value', ['run', '-W', 'fuel', IS_THIRTEEN], /-W fuel needs a value/],
  ['conflicting limits', ['run', '--fuel', '5', '-W', 'fuel=6', IS_THIRTEEN], /conflicts/],
  ['unknown option', ['run', '--frobnicate', IS_THIRTEEN], /unknown option '--frobnicate'/],
  ['missing FILE', ['run'], /missing required argument 'file'/],
  ['option without value', ['run', '--invoke'], /argument missing/],
  ['--invoke with --buffer', ['run', '--invoke', 'a', '--buffer', 'b', IS_THIRTEEN], /cannot be combined/],
  ['compile without -o', ['compile', IS_THIRTEEN], /required option '-o, --output <file>' not specified/],
  ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
  ['inspect with two files', ['inspect', IS_THIRTEEN, IS_THIRTEEN], /too many arguments/],
];

for (const [what, args, message] of USAGE_ERRORS) {
  test(`usage error: ${what} → error line + usage hint, exit 2`, () => {
    assertFails(isola(args), message, { status: 2, usage: true });
  });
}
