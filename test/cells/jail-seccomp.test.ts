// The seccomp program isola generates, run through a small classic-BPF interpreter: the decisions the
// kernel would take for the calls that matter (threads yes, processes no, sockets no, ioctl narrowed,
// wrong architecture killed). The kernel-side proof is in jail-attacks.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { AUDIT_ARCH, buildSeccompFilter, type SeccompArch } from '../../src/cells/jail/seccomp.js';
import { SYSCALLS, type SyscallName } from '../../src/cells/jail/syscalls.js';

const ALLOW = 0x7fff0000;
const KILL = 0x80000000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;

/** Runs a classic BPF seccomp program on one seccomp_data; returns the action. */
function run(prog: Uint8Array, arch: number, nr: number, args: number[] = []): number {
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const le = endianness() === 'LE';
  const data = new DataView(new ArrayBuffer(64));
  data.setInt32(0, nr, true);
  data.setUint32(4, arch, true);
  args.forEach((a, i) => data.setUint32(16 + i * 8, a >>> 0, true));
  let acc = 0;
  for (let pc = 0, steps = 0; pc * 8 < prog.length; pc++, steps++) {
    assert.ok(steps < 10_000, 'runaway program');
    const code = v.getUint16(pc * 8, le);
    const jt = v.getUint8(pc * 8 + 2);
    const jf = v.getUint8(pc * 8 + 3);
    const k = v.getUint32(pc * 8 + 4, le);
    switch (code) {
      case 0x20: acc = data.getUint32(k, true); break; // ld [k]
      case 0x15: pc += acc === k ? jt : jf; break; // jeq
      case 0x45: pc += (acc & k) !== 0 ? jt : jf; break; // jset
      case 0x05: pc += k; break; // ja
      case 0x06: return k; // ret
      default: assert.fail(`unexpected opcode ${code.toString(16)} at ${pc}`);
    }
  }
  return assert.fail('fell off the end of the program');
}

const CLONE_THREAD_FLAGS = 0x3d0f00; // what glibc's pthread_create passes
const SIGCHLD = 17;
const CLONE_NEWUSER = 0x10000000;
const CLONE_VFORK_VM = 0x4000 | 0x100;

for (const arch of ['x64', 'arm64'] as SeccompArch[]) {
  const prog = buildSeccompFilter(arch);
  const col = arch === 'x64' ? 0 : 1;
  const nr = (n: SyscallName): number => SYSCALLS[n][col];
  const call = (n: SyscallName, args: number[] = []): number => run(prog, AUDIT_ARCH[arch], nr(n), args);

  test(`seccomp (${arch}): a well-formed program within the kernel's limits`, () => {
    assert.equal(prog.length % 8, 0);
    assert.ok(prog.length / 8 <= 4096, 'BPF_MAXINSNS');
  });

  test(`seccomp (${arch}): the calls Node needs are allowed`, () => {
    for (const n of ['read', 'write', 'openat', 'mmap', 'mprotect', 'futex', 'epoll_pwait', 'exit_group', 'getrandom', 'recvmsg', 'execve'] as const) {
      assert.equal(call(n), ALLOW, n);
    }
  });

  test(`seccomp (${arch}): threads yes, processes no`, () => {
    assert.equal(call('clone', [CLONE_THREAD_FLAGS]), ALLOW, 'pthread_create');
    assert.equal(call('clone', [SIGCHLD]), EPERM, 'fork');
    assert.equal(call('clone', [CLONE_VFORK_VM | SIGCHLD]), EPERM, 'vfork/posix_spawn');
    assert.equal(call('clone', [CLONE_THREAD_FLAGS | CLONE_NEWUSER]), EPERM, 'a thread in a new namespace');
    assert.equal(call('clone3'), ENOSYS, 'clone3 falls back to clone');
    if (arch === 'x64') {
      assert.equal(call('fork'), EPERM);
      assert.equal(call('vfork'), EPERM);
    }
  });

  test(`seccomp (${arch}): sockets, io_uring, ptrace, mount, bpf and friends are refused`, () => {
    const refused: Record<string, [number, number]> = {
      socket: [41, 198], socketpair: [53, 199], connect: [42, 203], bind: [49, 200], ptrace: [101, 117], mount: [165, 40],
      umount2: [166, 39], pivot_root: [155, 41], chroot: [161, 51], unshare: [272, 97], setns: [308, 268], bpf: [321, 280],
      keyctl: [250, 219], perf_event_open: [298, 241], process_vm_readv: [310, 270], kexec_load: [246, 104],
      init_module: [175, 105], userfaultfd: [323, 282], personality: [135, 92], chown: [92, -1], kill: [62, 129],
      execveat: [322, 281],
    };
    for (const [name, nrs] of Object.entries(refused)) {
      if (nrs[col]! >= 0) assert.equal(run(prog, AUDIT_ARCH[arch], nrs[col]!), EPERM, name);
    }
    assert.equal(call('io_uring_setup'), ENOSYS);
  });

  test(`seccomp (${arch}): no file gets a set-uid or set-gid bit; ordinary modes pass`, () => {
    const [O_WRONLY_CREAT, O_RDONLY, O_TMPFILE_RDWR] = [0o101, 0, 0o20000000 | (arch === 'x64' ? 0o200000 : 0o40000) | 2];
    const AT_FDCWD = -100;
    for (const mode of [0o4755, 0o2755, 0o6755, 0o4000, 0o2000]) {
      const m = mode.toString(8);
      if (arch === 'x64') {
        assert.equal(call('chmod', [0x1000, mode]), EPERM, `chmod ${m}`);
        assert.equal(call('mkdir', [0x1000, mode]), EPERM, `mkdir ${m}`);
        assert.equal(call('open', [0x1000, O_WRONLY_CREAT, mode]), EPERM, `open O_CREAT ${m}`);
      }
      assert.equal(call('fchmod', [3, mode]), EPERM, `fchmod ${m}`);
      assert.equal(call('fchmodat', [AT_FDCWD, 0x1000, mode]), EPERM, `fchmodat ${m}`);
      assert.equal(call('fchmodat2', [AT_FDCWD, 0x1000, mode, 0]), EPERM, `fchmodat2 ${m}`);
      assert.equal(call('mkdirat', [AT_FDCWD, 0x1000, mode]), EPERM, `mkdirat ${m}`);
      assert.equal(call('openat', [AT_FDCWD, 0x1000, O_WRONLY_CREAT, mode]), EPERM, `openat O_CREAT ${m}`);
      assert.equal(call('openat', [AT_FDCWD, 0x1000, O_TMPFILE_RDWR, mode]), EPERM, `openat O_TMPFILE ${m}`);
      // Without O_CREAT the kernel ignores the mode: nothing is created, nothing refused.
      assert.equal(call('openat', [AT_FDCWD, 0x1000, O_RDONLY, mode]), ALLOW, `openat O_RDONLY ${m}`);
    }
    for (const mode of [0o755, 0o644, 0o1777, 0o600]) {
      const m = mode.toString(8);
      if (arch === 'x64') assert.equal(call('chmod', [0x1000, mode]), ALLOW, `chmod ${m}`);
      assert.equal(call('fchmod', [3, mode]), ALLOW, `fchmod ${m}`);
      assert.equal(call('fchmodat', [AT_FDCWD, 0x1000, mode]), ALLOW, `fchmodat ${m}`);
      assert.equal(call('mkdirat', [AT_FDCWD, 0x1000, mode]), ALLOW, `mkdirat ${m}`);
      assert.equal(call('openat', [AT_FDCWD, 0x1000, O_WRONLY_CREAT, mode]), ALLOW, `openat O_CREAT ${m}`);
    }
    // openat2's mode sits in a struct the filter cannot read: ENOSYS, so callers use openat.
    assert.equal(call('openat2'), ENOSYS);
    // Other ways to a privileged file: device nodes, creat, ownership, file capabilities (security.capability).
    const refused: Record<string, [number, number]> = {
      creat: [85, -1], mknod: [133, -1], mknodat: [259, 33], chown: [92, -1], fchown: [93, 55], fchownat: [260, 54],
      lchown: [94, -1], setxattr: [188, 5], lsetxattr: [189, 6], fsetxattr: [190, 7],
    };
    for (const [name, nrs] of Object.entries(refused)) {
      if (nrs[col]! >= 0) assert.equal(run(prog, AUDIT_ARCH[arch], nrs[col]!), EPERM, name);
    }
  });

  test(`seccomp (${arch}): ioctl only for the terminal/fd requests libuv uses`, () => {
    assert.equal(call('ioctl', [1, 0x5401]), ALLOW, 'TCGETS');
    assert.equal(call('ioctl', [1, 0x5421]), ALLOW, 'FIONBIO');
    assert.equal(call('ioctl', [1, 0x5412]), EPERM, 'TIOCSTI (terminal injection)');
    assert.equal(call('ioctl', [1, 0x4008ae01]), EPERM, 'a KVM ioctl');
  });

  test(`seccomp (${arch}): another architecture, or x32 numbering, gets nothing`, () => {
    const other = arch === 'x64' ? AUDIT_ARCH.arm64 : AUDIT_ARCH.x64;
    assert.equal(run(prog, other, nr('read')), KILL);
    assert.equal(run(prog, 0x40000003 /* i386 */, 3), KILL);
    if (arch === 'x64') assert.equal(run(prog, AUDIT_ARCH.x64, 0x40000000 | nr('read')), EPERM, 'x32 ABI');
  });
}
