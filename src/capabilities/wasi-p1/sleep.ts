/** A synchronous sleep (WASI calls are synchronous): Atomics.wait on a private cell. */
let cell: Int32Array | null = null;
export function sleepMs(ms: number): void {
  if (!(ms > 0)) return;
  cell ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(cell, 0, 0, ms);
}
