/**
 * The buffer ABI: the guest exports `memory`, `get_buffer_ptr() -> i32`, `process_data(len) -> i32`
 * and optionally `get_buffer_size() -> i32`. The host copies the input to the buffer, calls
 * process_data(len), and takes the returned number of bytes from the same place.
 * Every number the guest returns is checked against its memory before it is used.
 */
import { IsolaError } from '../errors.js';
import { formatSig } from '../wasm/types.js';
import type { Instance } from './instance.js';

const bufferError = (message: string): IsolaError => new IsolaError('BUFFER', message);

/** The ABI's functions must have exactly these types; anything else is refused before a call. */
function checkSignature(instance: Instance, name: string, params: string, optional = false): boolean {
  const e = instance.compiled.info.exports.find((x) => x.name === name);
  if (!e && optional) return false;
  if (e?.kind === 'func' && e.sig) {
    const sig = formatSig(e.sig);
    if (sig === `(${params}) -> i32`) return true;
    throw bufferError(`${name} must have type (${params}) -> i32, not ${sig}`);
  }
  instance.getFunction(name); // NO_EXPORT, listing what the module does export
  return true;
}

/** One buffer-ABI call, opened: the input goes into `target`, then `run(length)` calls the export. */
export interface BufferCall {
  /** The guest's buffer: get_buffer_ptr() onward, as long as get_buffer_size() (or memory) allows. */
  readonly target: Uint8Array;
  /**
   * Calls EXPORT(length) and returns the output. `copy: false` returns a view of the guest's memory
   * instead of a copy: for a caller that discards the instance right after (a cell sending the output on).
   */
  run(length: number, copy?: boolean): Uint8Array;
}

/**
 * Checks the ABI and asks the guest where its buffer is. Split from processBuffer for a caller that
 * writes the input itself as it arrives (a cell streaming a data frame straight into guest memory).
 */
export function openBuffer(instance: Instance, exportName = 'process_data'): BufferCall {
  const memory = instance.memory;
  if (!memory) throw bufferError('the buffer ABI needs the module to export its memory (as `memory`)');
  checkSignature(instance, exportName, 'i32');
  checkSignature(instance, 'get_buffer_ptr', '');
  const hasSize = checkSignature(instance, 'get_buffer_size', '', true);
  const process = instance.getFunction(exportName);
  const ptr = (instance.getFunction('get_buffer_ptr')() as number) >>> 0;
  let capacity = memory.buffer.byteLength - ptr;
  if (capacity < 0) throw bufferError(`get_buffer_ptr returned 0x${ptr.toString(16)}, outside the guest's ${memory.buffer.byteLength} bytes of memory`);
  if (hasSize) {
    const declared = (instance.getFunction('get_buffer_size')() as number) >>> 0;
    capacity = Math.min(capacity, declared);
  }
  return {
    target: new Uint8Array(memory.buffer, ptr, capacity),
    run(length: number, copy = true): Uint8Array {
      const outLength = process(length) as number;
      if (typeof outLength !== 'number' || outLength < 0) {
        throw bufferError(`${exportName} returned ${String(outLength)}, not a length`);
      }
      const available = memory.buffer.byteLength - ptr; // memory may have grown (never shrinks)
      if (outLength > available) {
        throw bufferError(`${exportName} returned a length of ${outLength} bytes, but only ${available} bytes of memory follow the buffer`);
      }
      const out = new Uint8Array(memory.buffer, ptr, outLength);
      return copy ? out.slice() : out;
    },
  };
}

export function checkInputFits(call: Pick<BufferCall, 'target'>, length: number): void {
  if (length > call.target.length) {
    throw bufferError(`input of ${length} bytes does not fit the guest buffer of ${call.target.length} bytes`);
  }
}

/** `copy: false`: see BufferCall.run. */
export function processBuffer(instance: Instance, input: Uint8Array, exportName = 'process_data', copy = true): Uint8Array {
  const call = openBuffer(instance, exportName);
  checkInputFits(call, input.length);
  call.target.set(input);
  return call.run(input.length, copy);
}
