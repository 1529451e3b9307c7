/**
 * A way for host code to stop a guest that the guest cannot catch.
 *
 * A JS exception thrown from an import is catchable by Wasm exception handling (`catch_all`,
 * `try_table`), so a guest could swallow "fuel exhausted" and loop forever. A trap raised by Wasm
 * code is not catchable by Wasm, even when it passes through a JS frame. So `fuel_check` records
 * the real error and calls this tiny module's `trap` export (a bare `unreachable`); the engine then
 * swaps the resulting RuntimeError for the recorded error.
 */

// (module $isola_internal (func (export "trap") unreachable)) — the name keeps its frames out of backtraces.
const BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x08, 0x01, 0x04, 0x74, 0x72, 0x61, 0x70, 0x00, 0x00, 0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, 0x00,
  0x1b, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x0f, 0x0e, 0x69, 0x73, 0x6f, 0x6c, 0x61, 0x5f, 0x69, 0x6e, 0x74,
  0x65, 0x72, 0x6e, 0x61, 0x6c, 0x02, 0x03, 0x01, 0x00, 0x00,
]);

let trap: (() => never) | undefined;

/** Raises an uncatchable Wasm trap (`RuntimeError: unreachable`) in the calling guest. */
export function raiseUncatchableTrap(): never {
  trap ??= new WebAssembly.Instance(new WebAssembly.Module(BYTES)).exports.trap as () => never;
  trap();
  throw new Error('unreachable'); // not reached: the call above always traps
}
