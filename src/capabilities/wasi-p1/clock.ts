/** The four WASI clocks, read in nanoseconds (BigInt). */
import { E, fail } from './errno.js';

export const CLOCK = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 } as const;

// Realtime is derived from the monotonic clock plus an offset fixed at load, for
// sub-millisecond resolution (Date.now() alone has only milliseconds).
const realtimeOffset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function now(id: number): bigint {
  switch (id) {
    case CLOCK.REALTIME:
      return realtimeOffset + process.hrtime.bigint();
    case CLOCK.MONOTONIC:
      return process.hrtime.bigint();
    case CLOCK.PROCESS_CPUTIME:
    case CLOCK.THREAD_CPUTIME: {
      // The guest runs on this thread; the process figure is the closest Node offers for both.
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default:
      return fail(E.INVAL);
  }
}

export function resolution(id: number): bigint {
  switch (id) {
    case CLOCK.REALTIME:
    case CLOCK.MONOTONIC:
      return 1n;
    case CLOCK.PROCESS_CPUTIME:
    case CLOCK.THREAD_CPUTIME:
      return 1000n;
    default:
      return fail(E.INVAL);
  }
}
