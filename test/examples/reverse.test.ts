import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, processBuffer } from '../../src/index.js';
import { isola, example, exampleBytes } from './support.js';

const BUFFER_SIZE = 1 << 20; // get_buffer_size() in reverse.wat

/** Every byte value, in an order whose reverse differs from itself. */
function sampleInput(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}
const reversed = (b: Uint8Array): Uint8Array => Uint8Array.from(b).reverse();

test('cli: --buffer process_data reverses stdin to stdout', () => {
  for (const input of [Buffer.from('hello, world'), Buffer.alloc(0), Buffer.from('x'), sampleInput(BUFFER_SIZE)]) {
    const r = isola(['run', '--buffer', 'process_data', example('reverse.wasm')], input);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(new Uint8Array(r.stdout), reversed(input), `${input.length} bytes`);
  }
});

test('cli: input larger than the guest buffer is refused before anything runs', () => {
  const r = isola(['run', '--buffer', 'process_data', example('reverse.wasm')], sampleInput(BUFFER_SIZE + 1));
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout.length, 0);
  assert.match(r.stderr, new RegExp(`^error: input of ${BUFFER_SIZE + 1} bytes does not fit the guest buffer of ${BUFFER_SIZE} bytes$`, 'm'));
});

test('library: processBuffer reverses, and an instance can be reused', () => {
  const instance = new Engine({ cacheDir: null }).compile(exampleBytes('reverse.wasm')).instantiate();
  const input = sampleInput(4096);
  assert.deepEqual(processBuffer(instance, input, 'process_data'), reversed(input));
  assert.deepEqual(processBuffer(instance, new TextEncoder().encode('abc')), new TextEncoder().encode('cba'));
});
