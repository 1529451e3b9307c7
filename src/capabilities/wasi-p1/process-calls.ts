/**
 * args, environ, clocks, random, proc_*, sched_yield and the socket calls (isola grants no
 * sockets: a real socket fd can never appear, so these answer EBADF or ENOTSOCK).
 */
import { E } from './errno.js';
import { now, resolution } from './clock.js';
import type { WasiContext, WasiFn } from './context.js';

/** Thrown by proc_exit; runWasiCommand turns it into the exit code. */
export class WasiExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`wasi exit ${exitCode}`);
    this.name = 'WasiExit';
    this.exitCode = exitCode;
  }
}

function sizesGet(ctx: WasiContext, list: Uint8Array[], countPtr: number, sizePtr: number): number {
  let size = 0;
  for (const s of list) size += s.length;
  ctx.mem.check(countPtr, 4);
  ctx.mem.check(sizePtr, 4);
  ctx.mem.setU32(countPtr, list.length);
  ctx.mem.setU32(sizePtr, size);
  return E.SUCCESS;
}

function listGet(ctx: WasiContext, list: Uint8Array[], ptrsPtr: number, bufPtr: number): number {
  const { mem } = ctx;
  let size = 0;
  for (const s of list) size += s.length;
  mem.check(ptrsPtr, list.length * 4);
  mem.check(bufPtr, size);
  let at = bufPtr >>> 0;
  for (let i = 0; i < list.length; i++) {
    mem.dv.setUint32((ptrsPtr >>> 0) + i * 4, at, true);
    mem.u8.set(list[i]!, at);
    at += list[i]!.length;
  }
  return E.SUCCESS;
}

const RANDOM_CHUNK = 65536; // getRandomValues' per-call limit

export function processCalls(ctx: WasiContext, onExit: (code: number) => void): Record<string, WasiFn> {
  const { mem, fds } = ctx;
  const notSocket = (fd: number): number => (fds.lookup(fd) === undefined ? E.BADF : E.NOTSOCK);
  return {
    args_sizes_get: (countPtr: number, sizePtr: number) => sizesGet(ctx, ctx.args, countPtr, sizePtr),
    args_get: (argv: number, buf: number) => listGet(ctx, ctx.args, argv, buf),
    environ_sizes_get: (countPtr: number, sizePtr: number) => sizesGet(ctx, ctx.env, countPtr, sizePtr),
    environ_get: (environ: number, buf: number) => listGet(ctx, ctx.env, environ, buf),

    clock_res_get(id: number, out: number): number {
      const r = resolution(id);
      mem.setU64(out, r);
      return E.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, out: number): number {
      const t = now(id);
      mem.setU64(out, t);
      return E.SUCCESS;
    },

    random_get(buf: number, len: number): number {
      mem.check(buf, len);
      const start = buf >>> 0;
      const end = start + (len >>> 0);
      for (let p = start; p < end; p += RANDOM_CHUNK) {
        globalThis.crypto.getRandomValues(mem.u8.subarray(p, Math.min(end, p + RANDOM_CHUNK)));
      }
      return E.SUCCESS;
    },

    proc_exit(code: number): number {
      onExit(code >>> 0);
      throw new WasiExit(code >>> 0);
    },
    // Raising signals is not something a sandboxed guest gets to do (wasmtime: ENOTSUP).
    proc_raise: () => E.NOTSUP,
    sched_yield: () => E.SUCCESS,

    sock_accept: (fd: number) => notSocket(fd),
    sock_recv: (fd: number) => notSocket(fd),
    sock_send: (fd: number) => notSocket(fd),
    sock_shutdown: (fd: number) => notSocket(fd),
  };
}

