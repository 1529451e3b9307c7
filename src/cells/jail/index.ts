/**
 * The second wall: how a `process` cell's agent is started inside an OS jail (see ../../../docs/contracts.md,
 * `src/cells/jail/`). The cells driver spawns what planJail() returns; this folder never spawns a cell.
 *
 *   detect.ts     what this machine supports (probed once)     mounts.ts   what the jail's file system holds
 *   seccomp.ts    the BPF allowlist (syscalls.ts: numbers)      cgroup.ts   memory/task/CPU caps per cell
 *   rlimits.ts    the launcher shell: cgroup join + ulimits     node-flags.ts  Node's permission model
 *   bwrap.ts      bubblewrap's command line                    unshare.ts  the fallback without bubblewrap
 *   namespaces.ts the namespaces and the uid inside            host-user.ts who the jail is on the host
 */
import { closeSync } from 'node:fs';
import { IsolaError } from '../../errors.js';
import type { Preopen } from '../../capabilities/wasi-p1/index.js';
import { bwrapArgs } from './bwrap.js';
import { createCellCgroup, DEFAULT_CPU_CORES } from './cgroup.js';
import { findExecutable, jailSupport, type JailTool } from './detect.js';
import { agentMounts, pinMounts, preopenMounts, runtimeMounts } from './mounts.js';
import { jailNodeFlags } from './node-flags.js';
import { launcherArgs, SHELL } from './rlimits.js';
import { hostSeccompFilter } from './seccomp.js';
import { unshareCommand } from './unshare.js';

export { jailSupport, type JailSupport, type JailTool, type Wall } from './detect.js';
export { jailPreopens } from './mounts.js';

export interface JailRequest {
  /** Absolute path of the agent bundle (one self-contained file; its directory is mounted read-only). */
  agentEntry: string;
  /** Extra Node options, placed after the jail's own and before agentEntry. */
  nodeArgs: string[];
  /** Mounted at their (absolute, normalized) hostPath inside the jail: see jailPreopens(). */
  preopens: Preopen[];
  memoryLimitBytes: number;
  /** CPU quota in cores (cgroup cpu.max / cpu.cfs_quota_us, where writable). Default DEFAULT_CPU_CORES (1). */
  cpuCores?: number;
  maxOpenFiles: number;
  /** TESTS ONLY: leave Node's permission model off, so that only the kernel's walls remain. */
  noNodePermissions?: boolean;
}

export interface JailLaunch {
  kind: 'bwrap' | 'unshare' | 'none';
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Bytes to write into a pipe at child fd N (N >= 4; fd 3 is the driver's protocol channel), then close it. */
  fdData: Map<number, Uint8Array>;
  /**
   * Host fds to hand the child at fd N (child fd → host fd): the preopen directories, opened and checked
   * (see pinMounts). Pass them in the spawn's stdio, then call releaseSharedFds().
   */
  sharedFds: Map<number, number>;
  /** Closes this process's copies of sharedFds (once the child has them, or when it was never spawned). Idempotent. */
  releaseSharedFds(): void;
  /**
   * Weights the cell down against other cells and the host (true) or back: its CPU cgroup's weight, where it
   * has one (a nice value counts only inside its own cgroup). False where there is none; the driver renices too.
   */
  lowerCpu(low: boolean): boolean;
  /** Call after the child exits (removes the cell's cgroup). */
  cleanup(): void;
}

/**
 * The spawn's stdio for a launch: `head` (fds 0-3 as the caller wants them), a pipe at each fdData fd, the
 * shared host fds at theirs, 'ignore' in between.
 */
export function launchStdio(launch: JailLaunch, head: Array<'pipe' | 'ignore'>): Array<'pipe' | 'ignore' | number> {
  const stdio: Array<'pipe' | 'ignore' | number> = [...head];
  const place = (fd: number, what: 'pipe' | number): void => {
    while (stdio.length <= fd) stdio.push('ignore');
    stdio[fd] = what;
  };
  for (const fd of launch.fdData.keys()) place(fd, 'pipe');
  for (const [fd, hostFd] of launch.sharedFds) place(fd, hostFd);
  return stdio;
}

/** The child fd bwrap reads the seccomp program from. */
export const SECCOMP_FD = 4;

/**
 * Plans one jailed agent process. Throws IsolaError('JAIL') when no jail can be built here.
 * `tool` defaults to the one jailSupport() found; tests pass 'unshare' to exercise the fallback.
 */
export function planJail(req: JailRequest, tool: JailTool | null = jailSupport().tool): JailLaunch {
  const support = jailSupport();
  if (tool === null) {
    throw new IsolaError('JAIL', `cannot build the process jail here: ${support.reasons.join('; ') || 'no jail tool'}`);
  }
  if (tool === 'unshare' && support.hostUser.uid === 0) {
    throw new IsolaError('JAIL', 'the unshare fallback has no seccomp filter, so it never runs as root (see isola doctor: host uid)');
  }
  const toolPath = findExecutable(tool);
  if (toolPath === null) throw new IsolaError('JAIL', `cannot build the process jail here: ${tool} is not installed`);
  if (!Number.isFinite(req.memoryLimitBytes) || req.memoryLimitBytes < 32 << 20) {
    throw new IsolaError('JAIL', `memoryLimitBytes must be at least 32 MiB, got ${req.memoryLimitBytes}`);
  }
  const cpuCores = req.cpuCores ?? DEFAULT_CPU_CORES;
  if (!(Number.isFinite(cpuCores) && cpuCores >= 0.01 && cpuCores <= 1024)) {
    throw new IsolaError('JAIL', `cpuCores must be a number of cores from 0.01 to 1024, got ${req.cpuCores}`);
  }
  const agent = agentMounts(req.agentEntry);
  const runtime = runtimeMounts();
  const preopens = preopenMounts(req.preopens, [...runtime, ...agent]);
  const mounts = [...runtime, ...agent, ...preopens];
  const sharedFds = pinMounts(preopens);
  let released = false;
  const releaseSharedFds = (): void => {
    if (released) return;
    released = true;
    for (const fd of sharedFds.values()) closeSync(fd);
  };
  let cgroup: ReturnType<typeof createCellCgroup> = null;
  try {
    cgroup = createCellCgroup({ memoryLimitBytes: req.memoryLimitBytes, cpuCores });
    const node = [process.execPath, ...jailNodeFlags({
      agent, preopens, heapLimitBytes: cgroup?.memoryCapped ? null : req.memoryLimitBytes, noNodePermissions: req.noNodePermissions === true,
    }), ...req.nodeArgs, req.agentEntry];
    const filter = tool === 'bwrap' ? hostSeccompFilter() : null;
    const [command, ...args] = tool === 'bwrap'
      ? [...support.launchAs, toolPath, ...bwrapArgs({ mounts, seccompFd: filter ? SECCOMP_FD : null, command: node })]
      : unshareCommand({ launchAs: support.launchAs, unshare: toolPath, mounts, command: node });
    const launcher = launcherArgs({ procsFiles: cgroup?.procsFiles ?? [], maxOpenFiles: req.maxOpenFiles, command: command!, args });
    const fdData = new Map<number, Uint8Array>();
    if (filter) fdData.set(SECCOMP_FD, filter);
    let cleaned = false;
    return {
      kind: tool, command: SHELL, args: launcher, env: {}, fdData, sharedFds, releaseSharedFds,
      lowerCpu: (low) => cgroup?.lowerCpu(low) ?? false,
      cleanup: () => {
        releaseSharedFds();
        if (!cleaned) cgroup?.remove();
        cleaned = true;
      },
    };
  } catch (e) {
    releaseSharedFds();
    cgroup?.remove();
    throw e;
  }
}
