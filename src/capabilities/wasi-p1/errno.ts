/**
 * WASI preview1 errno values and the one table that turns a host (Node) error into one.
 * Every import returns one of these; nothing else may escape to the guest or the host.
 */
export const E = {
  SUCCESS: 0, TOOBIG: 1, ACCES: 2, ADDRINUSE: 3, ADDRNOTAVAIL: 4, AFNOSUPPORT: 5, AGAIN: 6,
  ALREADY: 7, BADF: 8, BADMSG: 9, BUSY: 10, CANCELED: 11, CHILD: 12, CONNABORTED: 13,
  CONNREFUSED: 14, CONNRESET: 15, DEADLK: 16, DESTADDRREQ: 17, DOM: 18, DQUOT: 19, EXIST: 20,
  FAULT: 21, FBIG: 22, HOSTUNREACH: 23, IDRM: 24, ILSEQ: 25, INPROGRESS: 26, INTR: 27, INVAL: 28,
  IO: 29, ISCONN: 30, ISDIR: 31, LOOP: 32, MFILE: 33, MLINK: 34, MSGSIZE: 35, MULTIHOP: 36,
  NAMETOOLONG: 37, NETDOWN: 38, NETRESET: 39, NETUNREACH: 40, NFILE: 41, NOBUFS: 42, NODEV: 43,
  NOENT: 44, NOEXEC: 45, NOLCK: 46, NOLINK: 47, NOMEM: 48, NOMSG: 49, NOPROTOOPT: 50, NOSPC: 51,
  NOSYS: 52, NOTCONN: 53, NOTDIR: 54, NOTEMPTY: 55, NOTRECOVERABLE: 56, NOTSOCK: 57, NOTSUP: 58,
  NOTTY: 59, NXIO: 60, OVERFLOW: 61, OWNERDEAD: 62, PERM: 63, PIPE: 64, PROTO: 65,
  PROTONOSUPPORT: 66, PROTOTYPE: 67, RANGE: 68, ROFS: 69, SPIPE: 70, SRCH: 71, STALE: 72,
  TIMEDOUT: 73, TXTBSY: 74, XDEV: 75, NOTCAPABLE: 76,
} as const;

/** Node's `err.code` strings → WASI errno. Unknown codes become EIO. */
const NODE_CODES: Record<string, number> = {
  E2BIG: E.TOOBIG, EACCES: E.ACCES, EADDRINUSE: E.ADDRINUSE, EADDRNOTAVAIL: E.ADDRNOTAVAIL,
  EAFNOSUPPORT: E.AFNOSUPPORT, EAGAIN: E.AGAIN, EWOULDBLOCK: E.AGAIN, EALREADY: E.ALREADY,
  EBADF: E.BADF, EBUSY: E.BUSY, ECANCELED: E.CANCELED, ECONNABORTED: E.CONNABORTED,
  ECONNREFUSED: E.CONNREFUSED, ECONNRESET: E.CONNRESET, EDQUOT: E.DQUOT, EEXIST: E.EXIST,
  EFAULT: E.FAULT, EFBIG: E.FBIG, EHOSTUNREACH: E.HOSTUNREACH, EILSEQ: E.ILSEQ, EINTR: E.INTR,
  EINVAL: E.INVAL, EIO: E.IO, EISCONN: E.ISCONN, EISDIR: E.ISDIR, ELOOP: E.LOOP, EMFILE: E.MFILE,
  EMLINK: E.MLINK, EMSGSIZE: E.MSGSIZE, ENAMETOOLONG: E.NAMETOOLONG, ENETDOWN: E.NETDOWN,
  ENETUNREACH: E.NETUNREACH, ENFILE: E.NFILE, ENOBUFS: E.NOBUFS, ENODEV: E.NODEV, ENOENT: E.NOENT,
  ENOMEM: E.NOMEM, ENOSPC: E.NOSPC, ENOSYS: E.NOSYS, ENOTCONN: E.NOTCONN, ENOTDIR: E.NOTDIR,
  ENOTEMPTY: E.NOTEMPTY, ENOTSOCK: E.NOTSOCK, ENOTSUP: E.NOTSUP, EOPNOTSUPP: E.NOTSUP,
  ENOTTY: E.NOTTY, ENXIO: E.NXIO, EOVERFLOW: E.OVERFLOW, EPERM: E.PERM, EPIPE: E.PIPE,
  ERANGE: E.RANGE, EROFS: E.ROFS, ESPIPE: E.SPIPE, ESRCH: E.SRCH, ESTALE: E.STALE,
  ETIMEDOUT: E.TIMEDOUT, ETXTBSY: E.TXTBSY, EXDEV: E.XDEV,
};

/** A WASI errno carried as an exception inside our own code (never thrown past an import). */
export class WasiErrno {
  constructor(readonly errno: number) {}
}
const PREALLOCATED: WasiErrno[] = Array.from({ length: 77 }, (_, i) => new WasiErrno(i));
/** Throws a preallocated errno value: helpers deep in the call chain use this to bail out. */
export function fail(errno: number): never {
  throw PREALLOCATED[errno] ?? new WasiErrno(errno);
}

/** Maps anything caught inside an import to an errno (host errors, our own bail-outs). */
export function errnoOf(e: unknown): number {
  if (e instanceof WasiErrno) return e.errno;
  if (e instanceof RangeError) return E.FAULT; // a view/TypedArray access out of range
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return NODE_CODES[code] ?? E.IO;
  return E.IO;
}
