import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError, processBuffer } from '../../src/index.js';
import { wat } from './wat.js';

/** Upper-cases ASCII in place; the buffer starts at 1024 and the module says how big it is. */
function bufferModule(opts: { size?: number; result?: string; ptr?: number; pages?: number } = {}): Uint8Array {
  return wat(`(module
    (memory (export "memory") ${opts.pages ?? 1})
    (func (export "get_buffer_ptr") (result i32) (i32.const ${opts.ptr ?? 1024}))
    ${opts.size === undefined ? '' : `(func (export "get_buffer_size") (result i32) (i32.const ${opts.size}))`}
    (func (export "process_data") (param $len i32) (result i32)
      (local $i i32) (local $c i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (i32.const ${opts.ptr ?? 1024}) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (i32.const ${opts.ptr ?? 1024}) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      ${opts.result ?? '(local.get $len)'}))`);
}

const instantiate = (bytes: Uint8Array, fuel = false) => new Engine({ cacheDir: null }).compile(bytes, { fuel }).instantiate();
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

function bufferError(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof IsolaError && e.code === 'BUFFER' && e.message === message);
}

test('input goes in, the returned number of bytes comes out', () => {
  const instance = instantiate(bufferModule({ size: 100 }), true);
  assert.equal(decode(processBuffer(instance, text('hello, world'))), 'HELLO, WORLD');
  assert.equal(decode(processBuffer(instance, text(''))), '');
  assert.equal(decode(processBuffer(instance, text('again'), 'process_data')), 'AGAIN');
});

test('input that does not fit is refused before the guest runs', () => {
  const instance = instantiate(bufferModule({ size: 16 }));
  bufferError(() => processBuffer(instance, new Uint8Array(17)), 'input of 17 bytes does not fit the guest buffer of 16 bytes');
  // Without get_buffer_size, the space is what memory holds after the pointer.
  const open = instantiate(bufferModule());
  bufferError(() => processBuffer(open, new Uint8Array(65536 - 1024 + 1)), 'input of 64513 bytes does not fit the guest buffer of 64512 bytes');
  assert.equal(processBuffer(open, new Uint8Array(65536 - 1024)).length, 64512);
  // get_buffer_size larger than memory does not let input past the end.
  const liar = instantiate(bufferModule({ size: 1 << 30 }));
  bufferError(() => processBuffer(liar, new Uint8Array(70000)), 'input of 70000 bytes does not fit the guest buffer of 64512 bytes');
});

test('a returned length or pointer outside memory is refused', () => {
  bufferError(() => processBuffer(instantiate(bufferModule({ result: '(i32.const 100000)' })), text('x')),
    'process_data returned a length of 100000 bytes, but only 64512 bytes of memory follow the buffer');
  bufferError(() => processBuffer(instantiate(bufferModule({ result: '(i32.const -1)' })), text('x')), 'process_data returned -1, not a length');
  bufferError(() => processBuffer(instantiate(bufferModule({ ptr: 70000 })), text('x')),
    "get_buffer_ptr returned 0x11170, outside the guest's 65536 bytes of memory");
});

test('ABI functions of the wrong type are refused before anything runs', () => {
  const wrong = instantiate(wat(`(module (memory (export "memory") 1)
    (func (export "get_buffer_ptr") (result i64) (i64.const 0))
    (func (export "process_data") (param i32) (result i32) (local.get 0)))`));
  bufferError(() => processBuffer(wrong, text('x')), 'get_buffer_ptr must have type () -> i32, not () -> i64');
  const wrongProcess = instantiate(wat(`(module (memory (export "memory") 1)
    (func (export "get_buffer_ptr") (result i32) (i32.const 0))
    (func (export "process_data") (param i32 i32) (result i32) (local.get 0)))`));
  bufferError(() => processBuffer(wrongProcess, text('x')), 'process_data must have type (i32) -> i32, not (i32, i32) -> i32');
});

test('modules without the ABI get a clear error', () => {
  const noMemory = instantiate(wat('(module (func (export "process_data") (param i32) (result i32) (local.get 0)))'));
  bufferError(() => processBuffer(noMemory, text('x')), 'the buffer ABI needs the module to export its memory (as `memory`)');
  const noPtr = instantiate(wat('(module (memory (export "memory") 1) (func (export "process_data") (param i32) (result i32) (local.get 0)))'));
  assert.throws(() => processBuffer(noPtr, text('x')), { code: 'NO_EXPORT' });
});
