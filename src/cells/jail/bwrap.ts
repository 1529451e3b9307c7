/**
 * bubblewrap's command line for one cell: new user (mapped to nobody, no capabilities), PID, network
 * (empty: not even loopback is up), IPC, UTS, cgroup and mount namespaces; a tmpfs root holding only
 * the given mounts, remounted read-only; a fresh /proc of the new PID namespace; bwrap's minimal /dev;
 * a private /tmp; the seccomp filter read from `seccompFd`.
 */
import { JAIL_UID, NAMESPACES } from './namespaces.js';
import type { Mount } from './mounts.js';

export interface BwrapInput {
  mounts: Mount[];
  /** Child fd the filter is read from, or null for none. */
  seccompFd: number | null;
  command: string[];
}

export function bwrapArgs(input: BwrapInput): string[] {
  const args = [
    ...NAMESPACES.map((n) => n.bwrap), '--unshare-cgroup-try',
    '--uid', String(JAIL_UID), '--gid', String(JAIL_UID), '--hostname', 'isola-cell',
    // --as-pid-1: node itself is PID 1 (it can start no children to reap), so the jail's /proc shows one
    // process and not bwrap's command line, which names host paths.
    '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--as-pid-1',
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
  ];
  for (const m of input.mounts) {
    // A pinned directory is bound from its fd (bwrap >= 0.4), which bwrap closes once it is mounted: the
    // agent never holds a descriptor of the host directory (through which a read-only bind could be written).
    if (m.childFd !== undefined) args.push(m.readOnly ? '--ro-bind-fd' : '--bind-fd', String(m.childFd), m.dest);
    else args.push(m.readOnly ? '--ro-bind' : '--bind', m.src, m.dest);
  }
  args.push('--remount-ro', '/', '--chdir', '/');
  if (input.seccompFd !== null) args.push('--seccomp', String(input.seccompFd));
  args.push('--', ...input.command);
  return args;
}
