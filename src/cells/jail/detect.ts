/**
 * What this machine can actually build, found by trying (once per host process, a few ms), never
 * assumed from the kernel version or the distribution.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupStatus } from './cgroup.js';
import { permissionFlag } from './node-flags.js';
import { hostSeccompFilter, seccompArch } from './seccomp.js';
import { SHELL } from './rlimits.js';
import { JAIL_UID, NAMESPACES } from './namespaces.js';
import { probeUnshare } from './unshare.js';
import { currentUser, dropArgs, dropTarget, type HostUser } from './host-user.js';

export type JailTool = 'bwrap' | 'unshare';
export interface Wall {
  ok: boolean;
  why?: string;
}
export interface JailSupport {
  /** A `process` cell can be jailed here. */
  process: boolean;
  tool: JailTool | null;
  /** The argv prefix the launcher starts the tool through: setpriv to an unprivileged user when isola is root, else empty. */
  launchAs: string[];
  /** Who the jail's uid is on the host. */
  hostUser: HostUser;
  /** Why not (empty when process is true). */
  reasons: string[];
  walls: Record<string, Wall>;
}

/** Finds an executable on PATH (and the usual system directories); null if absent. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

interface Probe {
  ok: boolean;
  why: string;
}

function run([cmd, ...args]: string[], input?: Uint8Array): Probe {
  const r = spawnSync(cmd!, args, { input, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000, env: {} });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status === 0) return { ok: true, why: '' };
  const msg = r.stderr.toString().trim().split('\n')[0] ?? '';
  return { ok: false, why: msg || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`) };
}

/** Something harmless to run inside a probe jail. */
function probeTarget(): string[] {
  const t = findExecutable('true');
  return t !== null ? [t] : [process.execPath, '-e', '0'];
}

function bwrapBase(nsFlags: string[]): string[] {
  return [...nsFlags, '--uid', String(JAIL_UID), '--gid', String(JAIL_UID), '--cap-drop', 'ALL', '--die-with-parent',
    '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev'];
}

/**
 * Who the jail will be on the host (see host-user.ts): as root, the unprivileged user the launcher drops to
 * with setpriv; `asRootWhy` says why not where it cannot; `error` is a bad ISOLA_JAIL_USER.
 */
function hostIdentity(linux: boolean): { root: boolean; launchAs: string[]; hostUser: HostUser; asRootWhy: string; error: string | null } {
  const self = { root: false, launchAs: [], hostUser: currentUser(), asRootWhy: '', error: null };
  if (!linux || self.hostUser.uid !== 0) return self;
  let user: HostUser;
  try {
    user = dropTarget();
  } catch (e) {
    return { ...self, root: true, error: (e as Error).message };
  }
  const setpriv = findExecutable('setpriv');
  if (setpriv === null) return { ...self, root: true, asRootWhy: 'setpriv (util-linux) is not installed' };
  return { ...self, root: true, launchAs: dropArgs(setpriv, user), hostUser: user };
}

let cached: JailSupport | undefined;

export function jailSupport(): JailSupport {
  if (cached) return cached;
  const walls: Record<string, Wall> = {};
  const reasons: string[] = [];
  const linux = process.platform === 'linux';
  const bwrap = linux ? findExecutable('bwrap') : null;
  const unshare = linux ? findExecutable('unshare') : null;
  const filter = hostSeccompFilter();
  const target = probeTarget();
  let tool: JailTool | null = null;

  const identity = hostIdentity(linux);
  let { launchAs, hostUser, asRootWhy } = identity;
  const root = identity.root;
  if (identity.error !== null) reasons.push(identity.error);
  const who = `${hostUser.uid}:${hostUser.gid}`;

  if (!linux) reasons.push(`namespaces are a Linux feature; this is ${process.platform}`);
  else if (!existsSync(SHELL)) reasons.push(`${SHELL} is missing (the jail launcher needs it)`);
  else if (identity.error !== null) { /* no jail rather than a jail as root by mistake */ }
  else if (bwrap === null) {
    walls['bubblewrap'] = { ok: false, why: 'bwrap not installed (Debian: apt-get install bubblewrap)' };
  } else {
    const argv = [bwrap, ...bwrapBase(NAMESPACES.map((n) => n.bwrap)), ...(filter ? ['--seccomp', '0'] : []), '--', ...target];
    let all = run([...launchAs, ...argv], filter ?? undefined);
    if (!all.ok && launchAs.length > 0) {
      // Unprivileged user namespaces may be off here while root can still build them: a weaker jail, said so below.
      const asRoot = run(argv, filter ?? undefined);
      if (asRoot.ok) {
        asRootWhy = `bubblewrap cannot build the jail as ${who}: ${all.why}`;
        [launchAs, hostUser, all] = [[], currentUser(), asRoot];
      }
    }
    walls['bubblewrap'] = all.ok ? { ok: true, why: bwrap } : { ok: false, why: `${bwrap} cannot build the jail: ${all.why}` };
    if (all.ok) tool = 'bwrap';
  }
  if (linux && identity.error === null) {
    if (unshare === null) walls['unshare'] = { ok: false, why: 'unshare (util-linux) not installed' };
    else if (tool === 'bwrap') walls['unshare'] = { ok: true, why: `${unshare} (the fallback, not needed: bubblewrap works)` };
    else if (root && launchAs.length === 0) {
      walls['unshare'] = { ok: false, why: `${unshare}: not as root (${asRootWhy}): with no seccomp filter, a cell could leave set-uid-root files on the host` };
    } else {
      const p = probeUnshare(unshare, launchAs);
      walls['unshare'] = p.ok ? { ok: true, why: `${unshare}: the fallback jail (namespaces and mounts, no seccomp)` } : { ok: false, why: `${unshare} cannot build the jail: ${p.why}` };
      if (p.ok) tool = 'unshare';
    }
  }

  // One wall each, so that `isola doctor` can say which one is missing and why.
  for (const ns of NAMESPACES) {
    if (identity.error !== null) walls[ns.wall] = { ok: false, why: identity.error };
    else if (tool === 'bwrap') walls[ns.wall] = { ok: true, why: ns.gives };
    else if (bwrap !== null) {
      const p = run([...launchAs, bwrap, ...bwrapBase(ns.wall === 'user namespace' ? [ns.bwrap] : ['--unshare-user', ns.bwrap]), '--', ...target]);
      walls[ns.wall] = p.ok ? { ok: true, why: ns.gives } : { ok: false, why: p.why };
    } else if (unshare !== null) {
      const p = run([...launchAs, unshare, '--user', '--map-root-user', '--fork', ns.unshare, '--', ...target]);
      walls[ns.wall] = p.ok ? { ok: true, why: ns.gives } : { ok: false, why: p.why };
    } else walls[ns.wall] = { ok: false, why: linux ? 'no tool to create it (bwrap or unshare)' : 'not Linux' };
  }
  walls['mount namespace'] = walls['user namespace']!.ok
    ? { ok: true, why: 'a tmpfs root holding only node, its libraries, the agent and the preopens' }
    : { ok: false, why: 'needs the user namespace' };

  walls['seccomp'] = filter === null
    ? { ok: false, why: `no system call table for ${process.arch}` }
    : tool === 'bwrap'
      ? { ok: true, why: `allowlist of ${filter.length / 8} BPF instructions (${seccompArch()}), handed to bwrap --seccomp` }
      : { ok: false, why: 'needs bubblewrap (--seccomp); the unshare fallback cannot install a filter' };
  walls['host uid'] = !linux ? { ok: false, why: 'not Linux' }
    : !root ? { ok: true, why: `${who}, the user running isola: a cell holds no more than it` }
      : launchAs.length > 0 ? { ok: true, why: `${who}, not root: the launcher drops to it with setpriv (ISOLA_JAIL_USER); it must be able to read the preopens and write the read-write ones` }
        : { ok: false, why: `host root (${asRootWhy || 'no jail'}): seccomp still refuses set-uid/set-gid bits, but what a cell writes in read-write preopens belongs to root` };
  const cgroups = linux ? cgroupStatus() : { memory: { ok: false, why: 'not Linux' }, cpu: { ok: false, why: 'not Linux' } };
  walls['cgroup memory'] = cgroups.memory.ok ? cgroups.memory : { ok: false, why: `${cgroups.memory.why}; falling back to V8's heap limit (--max-old-space-size)` };
  walls['cgroup cpu'] = cgroups.cpu.ok ? cgroups.cpu
    : { ok: false, why: `${cgroups.cpu.why}; no CPU quota: a spinning cell is only lowered (nice 19), and may still take a whole core from an idle machine` };
  walls['rlimits'] = linux ? { ok: true, why: 'open files, core dumps 0 (set by the launcher shell)' } : { ok: false, why: 'not Linux' };
  const perm = permissionFlag();
  walls['node permissions'] = perm === null
    ? { ok: false, why: `Node ${process.version} has no permission model` }
    : { ok: true, why: `${perm}: reads of the agent and preopens, writes to read-write preopens; no child processes, workers, addons` };

  for (const [name, w] of Object.entries(walls)) {
    if (!w.ok && identity.error === null && NAMESPACES.some((n) => n.wall === name)) reasons.push(`${name}: ${w.why}`);
  }
  if (tool === null) {
    for (const name of ['bubblewrap', 'unshare']) if (walls[name] && !walls[name].ok) reasons.push(walls[name].why!);
  }
  cached = { process: tool !== null, tool, launchAs, hostUser, reasons: tool !== null ? [] : reasons, walls };
  return cached;
}
