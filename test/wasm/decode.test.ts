// The decoder refuses every class of malformed input with a one-line message and the byte offset,
// never allocates what the input merely claims, and round-trips unmodified modules byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { IsolaError } from '../../src/errors.js';
import { decodeModule, inspect, instrument } from '../../src/wasm/index.js';
import { encodeModule } from '../../src/wasm/encoder.js';
import { instrumentUnvalidated } from '../../src/wasm/instrument.js';
import { fromRoot } from '../helpers/root.js';
import { watFixture } from './wat.js';
import { HEADER, module, section, vec, str, oneFunction } from './bytes.js';

function rejects(bytes: Uint8Array | number[], offset: number, reason: RegExp): void {
  const input = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  assert.throws(
    () => decodeModule(input),
    (e: unknown) => {
      assert.ok(e instanceof IsolaError, `expected an IsolaError, got ${String(e)}`);
      assert.equal(e.code, 'DECODE');
      assert.equal(e.detail.offset, offset, e.message);
      assert.match(e.message, new RegExp(`^malformed module at byte 0x${offset.toString(16)}: `));
      assert.match(e.message, reason);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('empty input', () => rejects([], 0, /empty input/));
test('bad magic', () => rejects([0x7f, 0x45, 0x4c, 0x46, 1, 0, 0, 0], 0, /bad magic/));
test('random bytes', () => rejects([0x13, 0x37, 0xca, 0xfe, 0xba, 0xbe], 0, /bad magic/));
test('truncated header', () => rejects([0x00, 0x61, 0x73, 0x6d, 0x01], 5, /truncated header/));
test('unsupported version', () => rejects([0x00, 0x61, 0x73, 0x6d, 0x02, 0, 0, 0], 4, /unsupported version 02 00 00 00/));
test('unknown section id', () => rejects(module([0x0e, 0x00]), 8, /unknown section id 14/));
test('section overrunning the module', () => rejects(module([0x01, 0x05, 0x00]), 8, /type section of 5 bytes overruns/));
test('duplicate section', () => rejects(module(section(1, [0]), section(1, [0])), 11, /duplicate type section/));
test('out-of-order sections', () => rejects(module(section(3, [0]), section(1, [0])), 11, /type section out of order/));
test('section with trailing bytes', () => rejects(module(section(1, [0, 0x60])), 11, /1 unexpected bytes/));
test('overlong LEB128', () => rejects(module([0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 9, /integer representation too long/));
test('LEB128 with bits beyond 32', () => rejects(module([0x01, 0x80, 0x80, 0x80, 0x80, 0x1f]), 9, /integer too large/));
test('truncated LEB128', () => rejects(module([0x01, 0x80]), 9, /unexpected end/));
test('GC types are refused cleanly', () => rejects(module(section(1, [1, 0x5f, 0, 0])), 11, /GC types \(form 0x5f\) are not supported/));
test('rec groups are refused cleanly', () => rejects(module(section(1, [1, 0x4e, 1, 0x60, 0, 0])), 11, /GC types/));
test('unknown value type', () => rejects(module(section(1, [1, 0x60, 1, 0x55, 0])), 13, /unknown value type 0x55/));
test('function and code counts must agree', () => {
  rejects(module(section(1, vec([[0x60, 0, 0]])), section(3, vec([[0], [0]])), section(10, vec([[2, 0, 0x0b]]))), 19, /declares 2 functions but the code section has 1/);
});
test('data count must match the data section', () => {
  rejects(module(section(5, [1, 0, 1]), section(12, [2]), section(11, [1, 1, 0])), 18, /data count section says 2/);
});
test('unknown external kind in an export', () => rejects(module(section(7, [1, ...str('x'), 9, 0])), 13, /unknown external kind 0x9/));

test('a vector claiming 2^32-1 entries is refused before anything is allocated', () => {
  const bytes = module([0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f]);
  const t = process.hrtime.bigint();
  rejects(bytes, 10, /type count 4294967295 exceeds the 0 bytes left/);
  assert.ok(process.hrtime.bigint() - t < 50_000_000n, 'fails fast');
  rejects(module(section(2, [0xff, 0xff, 0xff, 0xff, 0x0f, 0])), 10, /import count 4294967295/);
  rejects(module(section(10, [0xfe, 0xff, 0xff, 0xff, 0x0f])), 10, /function body count/);
  // br_table inside a body, walked by the fuel pass (V8 refuses it first when instrument() validates)
  const body = [0, 0x41, 0, 0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0b];
  assert.throws(() => instrumentUnvalidated(oneFunction([], [], [...body]), { fuel: true }), /br_table label count 4294967295 exceeds/);
  assert.throws(() => instrument(oneFunction([], [], [...body]), { fuel: true }), { code: 'INVALID' });
});

test('a function body overrunning its section', () => {
  rejects(module(section(1, vec([[0x60, 0, 0]])), section(3, vec([[0]])), section(10, [1, 9, 0, 0x0b])), 21, /function body 0 of 9 bytes overruns/);
});

test('every truncation of a valid module: refused with DECODE where V8 refuses it, accepted where V8 accepts it', () => {
  const full = watFixture('reftypes.wat', { names: true });
  let accepted = 0;
  for (let len = 0; len < full.length; len++) {
    const cut = full.subarray(0, len);
    const v8 = WebAssembly.validate(cut);
    let refused: unknown = null;
    try {
      decodeModule(cut);
      instrument(cut, { fuel: true });
    } catch (e) {
      refused = e;
    }
    if (refused === null) {
      // a cut exactly at a section boundary is a valid (smaller) module, unless counts disagree
      assert.ok(v8, `length ${len}: accepted, but V8 refuses it`);
      accepted++;
      continue;
    }
    assert.ok(refused instanceof IsolaError, `length ${len}: ${String(refused)}`);
    assert.equal(refused.code, 'DECODE', `length ${len}: ${refused.message}`);
    assert.ok(!v8, `length ${len}: refused (${refused.message}), but V8 accepts it`);
  }
  assert.ok(accepted >= 1, 'the cut after the header (an empty module) is accepted');
});

test('random corruption yields IsolaError or a module V8 can judge, never a crash', () => {
  const base = watFixture('control.wat', { names: true });
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from(base);
    for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) b[8 + Math.floor(rand() * (b.length - 8))] = Math.floor(rand() * 256);
    try {
      inspect(b);
      const out = instrument(b, { fuel: true, maxMemoryBytes: 1 << 20 });
      // if V8 accepts the corrupted input, it must accept our rewrite of it too
      if (WebAssembly.validate(b)) assert.ok(WebAssembly.validate(out.bytes), `mutation ${i}`);
    } catch (e) {
      assert.ok(e instanceof IsolaError, `mutation ${i}: ${String(e)}`);
    }
  }
});

test('components are recognised by inspect and refused by the decoder', () => {
  const component = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x00]);
  const info = inspect(component);
  assert.equal(info.kind, 'component');
  assert.equal(info.size, 10);
  assert.throws(() => instrument(component, { fuel: true }), (e: unknown) => e instanceof IsolaError && e.code === 'COMPONENT');
});

test('decode then encode of unmodified modules is byte-identical', () => {
  const inputs: Uint8Array[] = [Uint8Array.from(HEADER)];
  for (const f of readdirSync(fromRoot('test', 'fixtures', 'wasm')).filter((n) => n.endsWith('.wat'))) {
    inputs.push(watFixture(f), watFixture(f, { names: true }));
  }
  for (const f of readdirSync(fromRoot('examples')).filter((n) => n.endsWith('.wasm'))) {
    inputs.push(new Uint8Array(readFileSync(fromRoot('examples', f))));
  }
  for (const b of inputs) {
    assert.deepEqual(encodeModule(decodeModule(b)), b);
    assert.deepEqual(instrument(b, {}).bytes, b);
    // caps that change nothing regenerate the limits yet keep the bytes
    assert.deepEqual(instrument(b, { maxMemoryBytes: 2 ** 32, maxTableElements: 2 ** 32 }).bytes.length >= b.length, true);
  }
});

test('function bodies are not walked by inspect (lazy): a broken body does not stop inspect', () => {
  const broken = oneFunction([], [], [0, 0xff, 0x0b]); // opcode 0xff does not exist
  assert.equal(inspect(broken).functions.defined, 1);
  assert.throws(() => instrumentUnvalidated(broken, { fuel: true }), /unknown opcode 0xff/);
  assert.throws(() => instrument(broken, { fuel: true }), { code: 'INVALID' });
});
