/**
 * One cgroup per jailed cell, below the cgroups this host process lives in:
 *  - memory: a cap the kernel OOM-kills on (V8, Wasm memories and the private /tmp alike);
 *  - pids: a task cap;
 *  - cpu: a quota (`cpuCores` cores, default one: a cell can never take more than that, however many threads
 *    it starts) and a weight the driver lowers while the cell spins (see lowerCpu).
 * cgroup v2 where the unified hierarchy has the controller enabled for children, else v1's controller of
 * that name. Each controller is used where it is writable; the memory cap otherwise falls back to V8's heap
 * limit, the CPU ones to nice values alone. The launcher's shell writes its own pid into `procsFiles` before
 * exec'ing the jail tool, so every process of the jail is born inside the cgroups.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
/** Threads count as tasks; Node uses about a dozen. Processes are refused by seccomp anyway. */
const MAX_TASKS = 128;
/** The CPU quota's period, in µs (the kernel's default). */
const CPU_PERIOD_US = 100_000;
/** A lowered cell's weight: what nice 19 weighs against nice 0 (v1 cpu.shares 15 of 1024; v2 cpu.weight.nice 19). */
const LOW_SHARES = 15;
const NORMAL_SHARES = 1024;
/** A cell's CPU quota unless the caller sets one: one core, all a guest (one thread) can use anyway. */
export const DEFAULT_CPU_CORES = 1;

type Controller = 'memory' | 'pids' | 'cpu';
interface Hierarchy {
  /** The directory this host process's cgroup occupies in it. */
  dir: string;
  version: 1 | 2;
}
type Found = Record<Controller, Hierarchy | null> & { why: Record<Controller, string> };

export interface CellCgroup {
  /** `cgroup.procs` files the launcher joins. */
  procsFiles: string[];
  /** The memory cap is set (else the caller must cap V8's heap). */
  memoryCapped: boolean;
  /** The cell's CPU cgroup directory, or null where none could be made. */
  cpuDir: string | null;
  /** Weights the cell's CPU cgroup down (true) or back; false where it has none or the write failed. */
  lowerCpu(low: boolean): boolean;
  remove(): void;
}

let found: Found | undefined;

function locate(): Found {
  if (found) return found;
  const none = (why: string): Found => ({ memory: null, pids: null, cpu: null, why: { memory: why, pids: why, cpu: why } });
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  } catch {
    return (found = none('no /proc/self/cgroup'));
  }
  // v2: one directory; a controller counts where this cgroup's subtree_control hands it to children.
  const unified = lines.find((l) => l.startsWith('0::'));
  const v2dir = unified !== undefined ? join(ROOT, unified.slice(3)) : null;
  let v2: Set<string> = new Set();
  try {
    if (v2dir !== null) v2 = new Set(readFileSync(join(v2dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/));
  } catch {
    /* no unified hierarchy here (or a v1-only host) */
  }
  const pick = (ctrl: Controller): [Hierarchy | null, string] => {
    for (const l of lines) {
      const [, ctrls, path] = l.split(':', 3) as [string, string, string];
      if (ctrls.split(',').includes(ctrl) && existsSync(join(ROOT, ctrl, 'cgroup.procs'))) return [{ dir: join(ROOT, ctrl, path), version: 1 }, ''];
    }
    if (v2dir !== null && v2.has(ctrl)) return [{ dir: v2dir, version: 2 }, ''];
    return [null, v2dir !== null && unified !== '0::/' ? `cgroup v2 without the ${ctrl} controller delegated here` : `no ${ctrl} cgroup controller here`];
  };
  const [memory, mWhy] = pick('memory');
  const [pids, pWhy] = pick('pids');
  const [cpu, cWhy] = pick('cpu');
  return (found = { memory, pids, cpu, why: { memory: mWhy, pids: pWhy, cpu: cWhy } });
}

let counter = 0;
const swept = new Set<string>();

/** Removes cell cgroups left behind by isola processes that died without cleaning up. */
function sweep(parent: string): void {
  if (swept.has(parent)) return;
  swept.add(parent);
  try {
    for (const name of readdirSync(parent)) {
      const m = /^isola-(\d+)-\d+$/.exec(name);
      if (!m || Number(m[1]) === process.pid) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch (e) {
        if ((e as { code?: string }).code === 'ESRCH') rmQuietly(join(parent, name));
      }
    }
  } catch {
    /* nothing to sweep */
  }
}

function rmQuietly(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'ENOENT';
  }
}

/** Removes the cell's directories; a just-exited task can keep one busy for a moment, so retry briefly. */
function removeLater(dirs: string[], attempt = 0): void {
  const left = dirs.filter((d) => !rmQuietly(d));
  if (left.length > 0 && attempt < 20) setTimeout(() => removeLater(left, attempt + 1), 50).unref();
}

function tryWrite(file: string, text: string): boolean {
  try {
    writeFileSync(file, text);
    return true;
  } catch {
    return false;
  }
}

export interface CgroupLimits {
  memoryLimitBytes: number;
  /** CPU quota in cores (fractions allowed). */
  cpuCores: number;
}

/** Creates the cell's cgroups; null where none is writable here (see cgroupStatus for why). */
export function createCellCgroup(limits: CgroupLimits): CellCgroup | null {
  const where = locate();
  const name = `isola-${process.pid}-${++counter}`;
  const made = new Map<string, string>(); // hierarchy dir → the cell's directory in it
  const dirFor = (h: Hierarchy): string | null => {
    const have = made.get(h.dir);
    if (have !== undefined) return have;
    try {
      sweep(h.dir);
      const dir = join(h.dir, name);
      mkdirSync(dir);
      made.set(h.dir, dir);
      return dir;
    } catch {
      return null;
    }
  };
  let memoryCapped = false;
  const memory = where.memory;
  const memDir = memory && dirFor(memory);
  if (memory && memDir) {
    const limit = String(Math.floor(limits.memoryLimitBytes));
    const v2 = memory.version === 2;
    memoryCapped = tryWrite(join(memDir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), limit);
    // No swapping past the cap (an optional knob: absent where swap accounting is off).
    if (memoryCapped) tryWrite(join(memDir, v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes'), v2 ? '0' : limit);
  }
  if (where.pids) {
    const dir = dirFor(where.pids);
    if (dir !== null) tryWrite(join(dir, 'pids.max'), String(MAX_TASKS));
  }
  let cpuDir: string | null = null;
  const cpu = where.cpu;
  if (cpu) {
    const dir = dirFor(cpu);
    const quota = String(Math.max(1000, Math.round(limits.cpuCores * CPU_PERIOD_US)));
    const set = dir !== null && (cpu.version === 2
      ? tryWrite(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`)
      : tryWrite(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US)) && tryWrite(join(dir, 'cpu.cfs_quota_us'), quota));
    if (set) cpuDir = dir;
  }
  if (made.size === 0) return null;
  const dirs = [...made.values()];
  return {
    procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
    memoryCapped,
    cpuDir,
    lowerCpu: (low) => cpuDir !== null && (cpu!.version === 2
      ? tryWrite(join(cpuDir, 'cpu.weight.nice'), low ? '19' : '0')
      : tryWrite(join(cpuDir, 'cpu.shares'), String(low ? LOW_SHARES : NORMAL_SHARES))),
    remove: () => removeLater(dirs),
  };
}

export interface CgroupStatus {
  memory: { ok: boolean; why?: string };
  cpu: { ok: boolean; why?: string };
}

let status: CgroupStatus | undefined;
/** Whether a cell cgroup with a memory cap, and one with a CPU quota, can be made here (probed once by making one). */
export function cgroupStatus(): CgroupStatus {
  if (status) return status;
  const where = locate();
  const probe = createCellCgroup({ memoryLimitBytes: 64 << 20, cpuCores: 1 });
  const dirs = probe ? probe.procsFiles.map((f) => join(f, '..')) : [];
  for (const d of dirs) rmQuietly(d);
  const kind = (h: Hierarchy, ctrl: string): string => `v${h.version} ${ctrl} under ${h.dir}`;
  const memory = where.memory === null ? { ok: false, why: where.why.memory }
    : probe?.memoryCapped ? { ok: true, why: kind(where.memory, `memory${where.pids && where.memory.version === 1 ? ' + pids' : ''}`) }
      : { ok: false, why: `cannot create a child cgroup with a memory cap in ${where.memory.dir} (not writable)` };
  const cpu = where.cpu === null ? { ok: false, why: where.why.cpu }
    : probe?.cpuDir ? {
      ok: true,
      why: `${kind(where.cpu, 'cpu')}: a quota of ${DEFAULT_CPU_CORES} core per cell unless set (${where.cpu.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us'} ` +
        `${DEFAULT_CPU_CORES * CPU_PERIOD_US} per ${CPU_PERIOD_US} µs), weight ${where.cpu.version === 2 ? 'cpu.weight.nice 19' : `cpu.shares ${LOW_SHARES}/${NORMAL_SHARES}`} while it spins`,
    }
      : { ok: false, why: `cannot create a child cgroup with a CPU quota in ${where.cpu.dir} (not writable)` };
  return (status = { memory, cpu });
}

/** Where a process's cgroup of one controller is on this host (from /proc/PID/cgroup: v1's line, else v2's); null if none. */
export function processCgroupDir(pid: number, ctrl: Controller): { dir: string; version: 1 | 2 } | null {
  let lines: [string, string, string][];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':', 3) as [string, string, string]);
  } catch {
    return null;
  }
  const v1 = lines.find(([, ctrls]) => ctrls.split(',').includes(ctrl));
  if (v1 && existsSync(join(ROOT, ctrl, 'cgroup.procs'))) return { dir: join(ROOT, ctrl, v1[2]), version: 1 };
  const v2 = lines.find(([id]) => id === '0');
  return v2 ? { dir: join(ROOT, v2[2]), version: 2 } : null;
}
