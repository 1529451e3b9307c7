// instrument() trusts what it copies, and it appends to index spaces (a [] -> [] type, the fuel global):
// an invalid module naming the index the rewrite would create must be refused, not made valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/errors.js';
import { instrument } from '../../src/wasm/index.js';
import { Engine } from '../../src/index.js';
import { HEADER } from './bytes.js';

// No type section; function 0 says type 0, which only the fuel rewrite's appended [] -> [] type would be.
const MISSING_TYPE = Uint8Array.from([...HEADER, 3, 2, 1, 0, 10, 4, 1, 2, 0, 0x0b]);
// Only type 0 = (i32) -> (); call_indirect (type 1): type 1 would be the appended [] -> [].
const MISSING_CALL_TYPE = Uint8Array.from([...HEADER, 1, 5, 1, 0x60, 1, 0x7f, 0, 3, 2, 1, 0, 4, 4, 1, 0x70, 0, 1,
  10, 9, 1, 7, 0, 0x41, 0, 0x11, 1, 0, 0x0b]);

const invalid = (e: unknown): boolean => e instanceof IsolaError && e.code === 'INVALID' && /^invalid module: /.test(e.message);

test('an invalid module is refused (INVALID, V8\'s reason), never made valid by the rewrite', () => {
  for (const bytes of [MISSING_TYPE, MISSING_CALL_TYPE]) {
    assert.equal(WebAssembly.validate(bytes), false);
    for (const opts of [{ fuel: true }, { maxMemoryBytes: 65536 }, { maxTableElements: 10 }, { importMemory: true }]) {
      assert.throws(() => instrument(bytes, opts), invalid, JSON.stringify(opts));
    }
    assert.throws(() => new Engine({ cacheDir: null }).compile(bytes, { fuel: true }), invalid);
  }
});
