/**
 * The jail's seccomp-bpf ALLOWLIST, generated here as a classic BPF program (an array of 8-byte
 * `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`), handed to `bwrap --seccomp FD`.
 *
 * Shape: wrong architecture → kill the process; otherwise load the call number and compare it with
 * each allowed call (`jeq nr, 0, 1; ret ALLOW` pairs, so no jump ever exceeds BPF's 8-bit offsets);
 * a few calls get their arguments checked; everything else → EPERM.
 *
 * The list is what Node (libuv, V8) and the agent were seen to call under strace, widened to the
 * sibling forms of the same operations (open/openat, stat/statx…). Deliberately absent: socket
 * creation, mount, ptrace, bpf, keyctl, perf_event_open, process_vm_*, unshare/setns, chroot,
 * personality, userfaultfd, kexec/modules, chown, mknod, creat, setxattr (file capabilities) (and
 * anything else not named below).
 *
 * No set-uid or set-gid file can be made: chmod/fchmod/fchmodat/fchmodat2 with S_ISUID or S_ISGID in
 * the mode, open/openat creating a file (O_CREAT or O_TMPFILE) with them, mkdir/mkdirat with them →
 * EPERM. A file the jail writes in a read-write preopen lives on the host, where no nosuid mount
 * protects whoever runs it. openat2 hides its mode in a struct the filter cannot read: ENOSYS, and
 * callers fall back to openat.
 */
import { endianness } from 'node:os';
import { SYSCALLS, type SyscallName } from './syscalls.js';

const ALLOWED: SyscallName[] = [
  // files and descriptors (the WASI layer needs the mutating ones on read-write preopens)
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'close', 'close_range', 'lseek', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx',
  'statfs', 'fstatfs', 'getdents64', 'fcntl', 'dup', 'dup2', 'dup3', 'pipe', 'pipe2', 'access', 'faccessat',
  'faccessat2', 'readlink', 'readlinkat', 'getcwd', 'chdir', 'fchdir', 'rmdir', 'unlink',
  'unlinkat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'truncate',
  'ftruncate', 'fsync', 'fdatasync', 'fallocate', 'utimensat', 'utimes', 'futimesat', 'umask',
  'copy_file_range', 'sendfile', 'splice', 'flock', 'fadvise64',
  // memory (V8 reserves, protects and releases a lot; pkey_* is its code-space write protection)
  'mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'brk', 'msync', 'mincore', 'pkey_mprotect',
  'pkey_alloc', 'pkey_free', 'membarrier', 'memfd_create',
  // newer glibc: shadow stacks and sealing only restrict this process itself
  'map_shadow_stack', 'mseal',
  // threads, signals, time, identity (read-only questions)
  'futex', 'futex_waitv', 'set_robust_list', 'get_robust_list', 'rseq', 'set_tid_address', 'gettid', 'getpid', 'getppid',
  'sched_yield', 'sched_getaffinity', 'sched_getparam', 'sched_getscheduler', 'sched_get_priority_max',
  'sched_get_priority_min', 'getpriority', 'nanosleep', 'clock_nanosleep', 'clock_gettime', 'clock_getres',
  'gettimeofday', 'time', 'exit', 'exit_group', 'tgkill', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn',
  'rt_sigsuspend', 'rt_sigtimedwait', 'sigaltstack', 'restart_syscall', 'getrlimit', 'prlimit64',
  'getrusage', 'sysinfo', 'uname', 'getuid', 'geteuid', 'getgid', 'getegid', 'getgroups', 'getresuid',
  'getresgid', 'capget', 'prctl', 'arch_prctl', 'getcpu', 'wait4', 'timer_create', 'timer_settime',
  'timer_gettime', 'timer_delete', 'setitimer', 'getitimer',
  // the event loop
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'eventfd',
  'eventfd2', 'poll', 'ppoll', 'select', 'pselect6', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime',
  // the protocol channel (fd 3, a socketpair made by the host): use it, never create a socket
  'recvmsg', 'sendmsg', 'recvfrom', 'sendto', 'shutdown', 'getsockopt', 'setsockopt', 'getsockname',
  'getpeername',
  'getrandom',
  // bwrap itself execs node once after installing this filter. Still harmless afterwards: fork is
  // impossible (see clone below), so execve can only replace this same process, which keeps the
  // filter, the namespaces and the limits (no_new_privs: no setuid gain); and native code run that
  // way can do nothing that code which already broke out of V8 inside this process could not.
  'execve',
];

/**
 * Calls allowed unless they would give a file a set-uid or set-gid bit: `mode` is the argument holding the
 * mode; with `flags`, only when those flags create a file (otherwise the mode is ignored by the kernel).
 */
const MODE_CHECKED: { name: SyscallName; mode: number; flags?: number }[] = [
  { name: 'chmod', mode: 1 }, { name: 'fchmod', mode: 1 }, { name: 'fchmodat', mode: 2 }, { name: 'fchmodat2', mode: 2 },
  { name: 'mkdir', mode: 1 }, { name: 'mkdirat', mode: 2 },
  { name: 'open', flags: 1, mode: 2 }, { name: 'openat', flags: 2, mode: 3 },
];
const S_ISUID_GID = 0o6000;
/** O_CREAT | __O_TMPFILE: the same bits on x86_64 and aarch64. */
const O_CREATES = 0o100 | 0o20000000;

/** ioctl requests Node's stdio and libuv use (same numbers on x86_64 and aarch64). */
const IOCTLS = {
  TCGETS: 0x5401, TIOCGWINSZ: 0x5413, FIONREAD: 0x541b, FIONBIO: 0x5421, FIONCLEX: 0x5450, FIOCLEX: 0x5451,
};

const CLONE_THREAD = 0x00010000;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME: never, even for a thread. */
const CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80;

export const AUDIT_ARCH = { x64: 0xc000003e, arm64: 0xc00000b7 } as const;
export type SeccompArch = keyof typeof AUDIT_ARCH;

const RET_KILL_PROCESS = 0x80000000;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

// classic BPF opcodes
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JSET_K = 0x45;
const RET_K = 0x06;

// offsets in struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; } (little-endian: low word first)
const NR = 0;
const ARCH = 4;
/** The low 32 bits of argument i (a mode is a 16-bit umode_t, flags an int: the high word never counts). */
const argLo = (i: number): number => 16 + 8 * i;

type Insn = [code: number, jt: number, jf: number, k: number];

/** Which architecture this Node runs on, as the filter knows it; null = no filter available here. */
export function seccompArch(): SeccompArch | null {
  return process.arch === 'x64' || process.arch === 'arm64' ? process.arch : null;
}

/** Builds the filter for one architecture. Returns the raw `sock_filter` array to hand to bwrap. */
export function buildSeccompFilter(arch: SeccompArch): Uint8Array {
  const col = arch === 'x64' ? 0 : 1;
  const nr = (name: SyscallName): number => SYSCALLS[name][col];
  const prog: Insn[] = [];
  const ret = (k: number): void => void prog.push([RET_K, 0, 0, k]);

  prog.push([LD_W_ABS, 0, 0, ARCH]);
  prog.push([JEQ_K, 1, 0, AUDIT_ARCH[arch]]);
  ret(RET_KILL_PROCESS);
  prog.push([LD_W_ABS, 0, 0, NR]);

  // Calls answered with ENOSYS so that libc and libuv fall back (to clone, to epoll/threadpool I/O, to openat).
  for (const name of ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'openat2'] as const) {
    prog.push([JEQ_K, 0, 1, nr(name)]);
    ret(RET_ERRNO | ENOSYS);
  }
  // Before the plain allowlist (opens are frequent; the kernel caches the verdict of always-allowed calls).
  // Each block returns on every path, so a call it skips still has its number loaded.
  for (const { name, mode, flags } of MODE_CHECKED) {
    const n = nr(name);
    if (n < 0) continue;
    prog.push([JEQ_K, 0, flags === undefined ? 4 : 6, n]);
    if (flags !== undefined) {
      prog.push([LD_W_ABS, 0, 0, argLo(flags)]);
      prog.push([JSET_K, 0, 3, O_CREATES]); // creates nothing → allow
    }
    prog.push([LD_W_ABS, 0, 0, argLo(mode)]);
    prog.push([JSET_K, 0, 1, S_ISUID_GID]);
    ret(RET_ERRNO | EPERM);
    ret(RET_ALLOW);
  }

  for (const name of ALLOWED) {
    const n = nr(name);
    if (n < 0) continue;
    prog.push([JEQ_K, 0, 1, n]);
    ret(RET_ALLOW);
  }

  // clone: threads only. Flags are a register argument, so the filter can read them.
  prog.push([JEQ_K, 0, 5, nr('clone')]);
  prog.push([LD_W_ABS, 0, 0, argLo(0)]);
  prog.push([JSET_K, 0, 2, CLONE_THREAD]); // no CLONE_THREAD → a new process → EPERM
  prog.push([JSET_K, 1, 0, CLONE_NEW_ANY]); // a thread asking for a namespace → EPERM
  ret(RET_ALLOW);
  ret(RET_ERRNO | EPERM);

  // ioctl: only the handful of terminal/fd requests above.
  const codes = Object.values(IOCTLS);
  prog.push([JEQ_K, 0, codes.length + 3, nr('ioctl')]); // skip the whole block
  prog.push([LD_W_ABS, 0, 0, argLo(1)]);
  codes.forEach((code, i) => prog.push([JEQ_K, codes.length - i, 0, code]));
  ret(RET_ERRNO | EPERM);
  ret(RET_ALLOW);

  ret(RET_ERRNO | EPERM);
  return encode(prog);
}

function encode(prog: Insn[]): Uint8Array {
  const bytes = new Uint8Array(prog.length * 8);
  const view = new DataView(bytes.buffer);
  const le = endianness() === 'LE';
  prog.forEach(([code, jt, jf, k], i) => {
    view.setUint16(i * 8, code, le);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k >>> 0, le);
  });
  return bytes;
}

let cached: Uint8Array | null | undefined;
/** The filter for this machine, built once; null where the architecture has no table. */
export function hostSeccompFilter(): Uint8Array | null {
  if (cached === undefined) {
    const arch = seccompArch();
    cached = arch === null ? null : buildSeccompFilter(arch);
  }
  return cached;
}
