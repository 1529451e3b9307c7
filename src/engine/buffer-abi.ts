/**
 * The buffer ABI: the guest exports `memory`, `get_buffer_ptr() -> i32`, `process_data(len) -> i32`
 * and optionally `get_buffer_size() -> i32`. The host copies the input to the buffer, calls
 * process_data(len), and takes the returned number of bytes from the same place.
 * Every number the guest returns is checked against its memory before it is used.
 */
import { IsolaError } from '../errors.js';
import type { Instance } from './instance.js';

const bufferError = (message: string): IsolaError => new IsolaError('BUFFER', message);

export function processBuffer(instance: Instance, input: Uint8Array, exportName = 'process_data'): Uint8Array {
  const memory = instance.memory;
  if (!memory) throw bufferError('the buffer ABI needs the module to export its memory (as `memory`)');
  const process = instance.getFunction(exportName);
  const ptr = (instance.getFunction('get_buffer_ptr')() as number) >>> 0;
  let capacity = memory.buffer.byteLength - ptr;
  if (capacity < 0) throw bufferError(`get_buffer_ptr returned 0x${ptr.toString(16)}, outside the guest's ${memory.buffer.byteLength} bytes of memory`);
  if ('get_buffer_size' in instance.exports) {
    const declared = (instance.getFunction('get_buffer_size')() as number) >>> 0;
    capacity = Math.min(capacity, declared);
  }
  if (input.length > capacity) {
    throw bufferError(`input of ${input.length} bytes does not fit the guest buffer of ${capacity} bytes`);
  }
  new Uint8Array(memory.buffer, ptr, input.length).set(input);
  const outLength = process(input.length) as number;
  if (typeof outLength !== 'number' || outLength < 0) {
    throw bufferError(`${exportName} returned ${String(outLength)}, not a length`);
  }
  const available = memory.buffer.byteLength - ptr; // memory may have grown (never shrinks)
  if (outLength > available) {
    throw bufferError(`${exportName} returned a length of ${outLength} bytes, but only ${available} bytes of memory follow the buffer`);
  }
  return new Uint8Array(memory.buffer, ptr, outLength).slice();
}
