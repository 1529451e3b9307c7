/** An invocation may only use the cell's own preopens: same guest path and host path, not less read-only. */
import { IsolaError } from '../errors.js';
import type { Preopen } from '../capabilities/wasi-p1/index.js';

export function checkInvocationPreopens(cell: readonly Preopen[], requested: readonly Preopen[] | undefined): void {
  for (const p of requested ?? []) {
    const own = cell.find((c) => c.guestPath === p.guestPath);
    if (own === undefined) throw new IsolaError('USAGE', `preopen ${p.guestPath} is not granted to this cell`);
    if (own.hostPath !== p.hostPath) throw new IsolaError('USAGE', `preopen ${p.guestPath} is ${own.hostPath} in this cell, not ${p.hostPath}`);
    if (own.readOnly === true && p.readOnly !== true) throw new IsolaError('USAGE', `preopen ${p.guestPath} is read-only in this cell`);
  }
}
