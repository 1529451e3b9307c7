// Timing and statistics helpers shared by every benchmark.

/** Nanoseconds since an arbitrary origin, as a number (fine for spans < 100 days). */
export const nowNs = (): number => Number(process.hrtime.bigint());

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

/** Wall time of one call of `fn`, in ns. */
export function timeNs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

/**
 * Runs `a` and `b` alternately `runs` times each and returns the times (ns) of
 * each. Alternating keeps drift (thermal, GC, other load) from favouring either.
 */
export function alternate(runs: number, a: () => void, b: () => void): { a: number[]; b: number[] } {
  const out = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < runs; i++) {
    out.a.push(timeNs(a));
    out.b.push(timeNs(b));
  }
  return out;
}
