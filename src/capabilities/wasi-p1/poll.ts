/**
 * poll_oneoff. Clock subscriptions (relative or absolute, any clock) and fd readiness:
 * regular files and outputs are always ready; stdin from a buffer or nothing is ready
 * (possibly at EOF); stdin from a host fd is reported ready (Node offers no synchronous
 * poll(2)): the following fd_read then blocks until data comes, as a blocking read would.
 * With no fd ready, we sleep until the earliest clock deadline.
 */
import { fstatSync } from 'node:fs';
import { IsolaError } from '../../errors.js';
import { formatDuration } from '../../engine/units.js';
import { E } from './errno.js';
import { CLOCK, now } from './clock.js';
import { R } from './rights.js';
import { sleepMs } from './sleep.js';
import type { FdTable } from './fd-table.js';
import type { WasiContext, WasiImpl } from './context.js';

const SUB_SIZE = 48;
const EVENT_SIZE = 32;
const EVENTTYPE = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;
const SUBCLOCKFLAGS_ABSTIME = 1;

interface Ready {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
}

function fdEvent(fds: FdTable, userdata: bigint, type: number, fd: number): Ready {
  const e = fds.lookup(fd);
  if (e === undefined) return { userdata, error: E.BADF, type, nbytes: 0n };
  if ((e.rightsBase & R.POLL_FD_READWRITE) === 0 && e.kind !== 'file') {
    return { userdata, error: E.NOTCAPABLE, type, nbytes: 0n };
  }
  let nbytes = 0n;
  if (type === EVENTTYPE.FD_READ) {
    if (e.kind === 'file') nbytes = BigInt(Math.max(0, fstatSync(e.hostFd).size - e.position));
    else if (e.input !== null) nbytes = BigInt(e.input.available());
  }
  return { userdata, error: E.SUCCESS, type, nbytes };
}

/** A poll_oneoff call as read from guest memory: what is ready now, and the clocks (deadlines on the monotonic clock). */
export interface PollCall {
  ready: Ready[];
  clocks: Array<{ userdata: bigint; deadline: bigint }>;
  outPtr: number;
  neventsPtr: number;
}

/** Reads the subscriptions (an errno when they are malformed). */
export function readPoll(ctx: WasiContext, inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): PollCall | number {
  const { mem, fds } = ctx;
  const n = nsubs >>> 0;
  if (n === 0) return E.INVAL;
  mem.check(inPtr, n * SUB_SIZE);
  mem.check(outPtr, n * EVENT_SIZE);
  mem.check(neventsPtr, 4);
  const dv = mem.dv;
  const ready: Ready[] = [];
  const clocks: PollCall['clocks'] = [];
  const start = now(CLOCK.MONOTONIC);
  for (let i = 0; i < n; i++) {
    const p = (inPtr >>> 0) + i * SUB_SIZE;
    const userdata = dv.getBigUint64(p, true);
    const tag = dv.getUint8(p + 8);
    if (tag === EVENTTYPE.CLOCK) {
      const id = dv.getUint32(p + 16, true);
      const timeout = dv.getBigUint64(p + 24, true);
      const flags = dv.getUint16(p + 40, true);
      if (id > CLOCK.THREAD_CPUTIME) {
        ready.push({ userdata, error: E.INVAL, type: tag, nbytes: 0n });
        continue;
      }
      // Everything is converted to a deadline on the monotonic clock.
      const deadline = flags & SUBCLOCKFLAGS_ABSTIME ? start + (timeout - now(id)) : start + timeout;
      clocks.push({ userdata, deadline });
    } else if (tag === EVENTTYPE.FD_READ || tag === EVENTTYPE.FD_WRITE) {
      ready.push(fdEvent(fds, userdata, tag, dv.getUint32(p + 16, true)));
    } else {
      return E.INVAL;
    }
  }
  return { ready, clocks, outPtr, neventsPtr };
}

/** When the call must wait for its earliest clock (nothing else is ready): that deadline; else null. */
export function sleepUntil(call: PollCall): bigint | null {
  if (call.ready.length !== 0 || call.clocks.length === 0) return null;
  let earliest = call.clocks[0]!.deadline;
  for (const c of call.clocks) if (c.deadline < earliest) earliest = c.deadline;
  return earliest;
}

/** Nanoseconds left until `deadline` on the monotonic clock (<= 0: due). */
export const nsUntil = (deadline: bigint): bigint => deadline - now(CLOCK.MONOTONIC);

/** What ends a guest whose sleep would outlast its timeout (the engine cannot interrupt a host-side sleep). */
export function sleepTimeout(ctx: WasiContext): IsolaError {
  return new IsolaError('TIMEOUT', `timed out after ${formatDuration(ctx.timeoutMs)}`, { timeoutMs: ctx.timeoutMs });
}

/** Writes the events: what was ready, and each clock now due. */
export function answerPoll(ctx: WasiContext, call: PollCall): number {
  const { mem } = ctx;
  const { ready } = call;
  const t = now(CLOCK.MONOTONIC);
  for (const c of call.clocks) {
    if (c.deadline <= t) ready.push({ userdata: c.userdata, error: E.SUCCESS, type: EVENTTYPE.CLOCK, nbytes: 0n });
  }
  const dv = mem.dv;
  const base = call.outPtr >>> 0;
  mem.u8.fill(0, base, base + ready.length * EVENT_SIZE);
  ready.forEach((ev, k) => {
    const q = base + k * EVENT_SIZE;
    dv.setBigUint64(q, ev.userdata, true);
    dv.setUint16(q + 8, ev.error, true);
    dv.setUint8(q + 10, ev.type);
    dv.setBigUint64(q + 16, ev.nbytes, true);
  });
  dv.setUint32(call.neventsPtr >>> 0, ready.length, true);
  return E.SUCCESS;
}

/** The implementation, shared by every guest: it takes its guest's context first (see wasi.ts). */
export const pollCalls = {
  poll_oneoff(ctx: WasiContext, inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number {
    const call = readPoll(ctx, inPtr, outPtr, nsubs, neventsPtr);
    if (typeof call === 'number') return call;
    const earliest = sleepUntil(call);
    if (earliest !== null) {
      ctx.beforeBlocking();
      // Sleep in slices so a long sleep wakes within a millisecond of its deadline.
      for (let left = nsUntil(earliest); left > 0n; left = nsUntil(earliest)) {
        const allowed = ctx.sleepDeadline - performance.now();
        if (Number(left) / 1e6 > allowed) {
          sleepMs(allowed);
          throw sleepTimeout(ctx);
        }
        sleepMs(Number(left) / 1e6);
      }
    }
    return answerPoll(ctx, call);
  },
} satisfies Record<string, WasiImpl>;
