/** The namespaces every jail gets, and who the agent is inside them. */

/** The namespaces, as bwrap and unshare name them. */
export const NAMESPACES = [
  { wall: 'user namespace', bwrap: '--unshare-user', unshare: '--user', gives: 'uid/gid 65534 inside, every capability dropped' },
  { wall: 'pid namespace', bwrap: '--unshare-pid', unshare: '--pid', gives: 'its own /proc: host processes invisible' },
  { wall: 'network namespace', bwrap: '--unshare-net', unshare: '--net', gives: 'empty: only a loopback that is down' },
  { wall: 'ipc namespace', bwrap: '--unshare-ipc', unshare: '--ipc', gives: 'no shared memory or queues with the host' },
  { wall: 'uts namespace', bwrap: '--unshare-uts', unshare: '--uts', gives: 'hostname isola-cell' },
] as const;

/** The unprivileged identity inside the jail (nobody/nogroup). */
export const JAIL_UID = 65534;
