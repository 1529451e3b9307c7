/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), the clock a host and its cells' agents share: one kernel,
 * and no jail gives a cell a time namespace (seccomp forbids making one). performance.now() counts from each
 * process's own start, so it cannot be compared across them.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
