/**
 * poll_oneoff for a guest that may park: its sleep suspends the guest's stack (JSPI, engine/jspi.ts) instead of
 * blocking the thread, so the thread runs other guests meanwhile. The owner of the thread (a cell's agent) decides
 * whether the guest may park now, and may end a parked sleep early (a cancel) by rejecting it. Everything but the
 * sleep is answered as the synchronous poll_oneoff answers it (poll.ts). The import is a WebAssembly.Suspending, so
 * the guest must be started through Instance.callSuspendable.
 */
import { IsolaError } from '../../errors.js';
import type { WasiContext } from './context.js';
import { errnoOf } from './errno.js';
import { answerPoll, nsUntil, readPoll, sleepTimeout, sleepUntil } from './poll.js';
import { WasiExit } from './process-calls.js';
import { sleepMs } from './sleep.js';

export interface ParkHooks {
  /**
   * The guest asks to sleep `ms` (> 0) milliseconds; its output has been flushed and its input copied (nothing of
   * it is a view of memory its owner reuses). A promise: the guest parks until it settles (resolved: the sleep is
   * over; rejected: it ends the guest with that error, e.g. IsolaError('CANCELLED')). Null: it may not park now
   * (the thread holds as many parked guests as it may), and sleeps on the thread instead, as without hooks.
   */
  park(ms: number): Promise<void> | null;
}

/** The import itself: a Suspending function over the guest's context. */
export function parkingPollOneoff(ctx: WasiContext, hooks: ParkHooks): WebAssembly.Suspending {
  return new WebAssembly.Suspending((inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) =>
    pollParking(ctx, hooks, inPtr, outPtr, nsubs, neventsPtr));
}

/**
 * As wasi.ts's call(): an errno out, only WasiExit and IsolaError (TIMEOUT, a cancel) pass through. A value, not a
 * promise, when nothing is to wait for (JSPI suspends either way; the guest goes on in a microtask).
 */
function pollParking(ctx: WasiContext, hooks: ParkHooks, inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number | Promise<number> {
  ctx.mem.refresh();
  try {
    const call = readPoll(ctx, inPtr, outPtr, nsubs, neventsPtr);
    if (typeof call === 'number') return call;
    const earliest = sleepUntil(call);
    if (earliest === null || nsUntil(earliest) <= 0n) return answerPoll(ctx, call);
    ctx.beforeParking();
    return sleepThenAnswer(ctx, hooks, earliest).then(() => answerPoll(ctx, call), mapped);
  } catch (e) {
    return mapped(e);
  }
}

function mapped(e: unknown): number {
  if (e instanceof WasiExit || e instanceof IsolaError) throw e;
  return errnoOf(e);
}

/** Until `earliest` (monotonic ns), parked where allowed; never past the guest's own timeout (then TIMEOUT). */
async function sleepThenAnswer(ctx: WasiContext, hooks: ParkHooks, earliest: bigint): Promise<void> {
  for (let left = nsUntil(earliest); left > 0n; left = nsUntil(earliest)) {
    const allowed = ctx.sleepDeadline - performance.now();
    const over = Number(left) / 1e6 > allowed;
    const ms = over ? allowed : Number(left) / 1e6;
    if (ms > 0) {
      // Under a millisecond (what is left after a timer, or a tiny sleep) is not worth a park.
      const parked = ms >= 1 ? hooks.park(ms) : null;
      if (parked === null) sleepMs(ms);
      else await parked;
      ctx.mem.refresh();
    }
    if (over) throw sleepTimeout(ctx);
  }
}
