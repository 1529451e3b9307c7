/**
 * args, environ, clocks, random, proc_*, sched_yield and the socket calls (isola grants no
 * sockets: a real socket fd can never appear, so these answer EBADF or ENOTSOCK).
 */
import { E } from './errno.js';
import { now, resolution } from './clock.js';
import type { StringList, WasiContext, WasiImpl } from './context.js';

/** Thrown by proc_exit; runWasiCommand turns it into the exit code. */
export class WasiExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`wasi exit ${exitCode}`);
    this.name = 'WasiExit';
    this.exitCode = exitCode;
  }
}

function sizesGet(ctx: WasiContext, list: StringList, countPtr: number, sizePtr: number): number {
  const size = list.bytes().length;
  ctx.mem.check(countPtr, 4);
  ctx.mem.check(sizePtr, 4);
  ctx.mem.setU32(countPtr, list.count);
  ctx.mem.setU32(sizePtr, size);
  return E.SUCCESS;
}

/** The strings go to bufPtr as they are stored (each NUL-terminated), their addresses to ptrsPtr. */
function listGet(ctx: WasiContext, list: StringList, ptrsPtr: number, bufPtr: number): number {
  const { mem } = ctx;
  const bytes = list.bytes();
  const count = list.count;
  mem.check(ptrsPtr, count * 4);
  mem.check(bufPtr, bytes.length);
  const buf = bufPtr >>> 0;
  const ptrs = ptrsPtr >>> 0;
  mem.u8.set(bytes, buf);
  const dv = mem.dv;
  // No string holds a NUL (WasiP1 refuses them), so the NULs are exactly the ends.
  for (let i = 0, at = 0; i < count; i++) {
    dv.setUint32(ptrs + i * 4, buf + at, true);
    at = bytes.indexOf(0, at) + 1;
  }
  return E.SUCCESS;
}

const RANDOM_CHUNK = 65536; // getRandomValues' per-call limit

const notSocket = (ctx: WasiContext, fd: number): number => (ctx.fds.lookup(fd) === undefined ? E.BADF : E.NOTSOCK);

/** The implementations, shared by every guest: each takes its guest's context first (see wasi.ts). */
export const processCalls = {
  args_sizes_get: (ctx: WasiContext, countPtr: number, sizePtr: number): number => sizesGet(ctx, ctx.args, countPtr, sizePtr),
  args_get: (ctx: WasiContext, argv: number, buf: number): number => listGet(ctx, ctx.args, argv, buf),
  environ_sizes_get: (ctx: WasiContext, countPtr: number, sizePtr: number): number => sizesGet(ctx, ctx.env, countPtr, sizePtr),
  environ_get: (ctx: WasiContext, environ: number, buf: number): number => listGet(ctx, ctx.env, environ, buf),

  clock_res_get(ctx: WasiContext, id: number, out: number): number {
    const r = resolution(id);
    ctx.mem.setU64(out, r);
    return E.SUCCESS;
  },
  clock_time_get(ctx: WasiContext, id: number, _precision: bigint, out: number): number {
    const t = now(id);
    ctx.mem.setU64(out, t);
    return E.SUCCESS;
  },

  random_get(ctx: WasiContext, buf: number, len: number): number {
    const { mem } = ctx;
    mem.check(buf, len);
    const start = buf >>> 0;
    const end = start + (len >>> 0);
    for (let p = start; p < end; p += RANDOM_CHUNK) {
      globalThis.crypto.getRandomValues(mem.u8.subarray(p, Math.min(end, p + RANDOM_CHUNK)));
    }
    return E.SUCCESS;
  },

  proc_exit(ctx: WasiContext, code: number): number {
    ctx.exitCode = code >>> 0;
    throw new WasiExit(code >>> 0);
  },
  // Raising signals is not something a sandboxed guest gets to do (wasmtime: ENOTSUP).
  proc_raise: (_ctx: WasiContext): number => E.NOTSUP,
  sched_yield: (_ctx: WasiContext): number => E.SUCCESS,

  sock_accept: (ctx: WasiContext, fd: number): number => notSocket(ctx, fd),
  sock_recv: (ctx: WasiContext, fd: number): number => notSocket(ctx, fd),
  sock_send: (ctx: WasiContext, fd: number): number => notSocket(ctx, fd),
  sock_shutdown: (ctx: WasiContext, fd: number): number => notSocket(ctx, fd),
} satisfies Record<string, WasiImpl>;
