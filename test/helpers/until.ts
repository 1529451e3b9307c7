// Waiting for what the code promises instead of a fixed sleep: a loaded 2-core CI machine can stretch any
// wall-clock figure, so tests poll for the state they expect, up to a generous bound.
/** Resolves with the ms it waited once `cond()` holds; throws naming `what` if it does not within `boundMs`. */
export async function until(cond: () => boolean, what: string, boundMs = 5000): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > boundMs) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

/** A flag that turns true once `p` settles, either way (to assert that something happened before it did). */
export function settledFlag(p: Promise<unknown>): { readonly done: boolean } {
  const flag = { done: false };
  p.then(() => { flag.done = true; }, () => { flag.done = true; });
  return flag;
}
