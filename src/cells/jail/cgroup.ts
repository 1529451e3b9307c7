/**
 * One cgroup per jailed cell, below the cgroup this host process lives in: a memory cap (what the
 * kernel OOM-kills on, counting V8, Wasm memories and the private /tmp alike) and a task cap. cgroup v2
 * where the unified hierarchy has the memory controller, else v1's memory (and pids) controllers.
 * The launcher's shell writes its own pid into `procsFiles` before exec'ing bwrap, so every process of
 * the jail is born inside the cgroup.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
/** Threads count as tasks; Node uses about a dozen. Processes are refused by seccomp anyway. */
const MAX_TASKS = 128;

interface Hierarchy {
  /** The directory this host process's cgroup occupies. */
  dir: string;
  version: 1 | 2;
}

export interface CellCgroup {
  /** `cgroup.procs` files the launcher joins. */
  procsFiles: string[];
  remove(): void;
}

let found: { memory: Hierarchy | null; pids: Hierarchy | null; why: string } | undefined;

function locate(): NonNullable<typeof found> {
  if (found) return found;
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  } catch {
    return (found = { memory: null, pids: null, why: 'no /proc/self/cgroup' });
  }
  const v1 = (ctrl: string): Hierarchy | null => {
    for (const l of lines) {
      const [, ctrls, path] = l.split(':', 3) as [string, string, string];
      if (ctrls.split(',').includes(ctrl) && existsSync(join(ROOT, ctrl, 'cgroup.procs'))) return { dir: join(ROOT, ctrl, path), version: 1 };
    }
    return null;
  };
  const memory1 = v1('memory');
  if (memory1) return (found = { memory: memory1, pids: v1('pids'), why: '' });
  const unified = lines.find((l) => l.startsWith('0::'));
  if (unified) {
    const dir = join(ROOT, unified.slice(3));
    try {
      if (readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
        return (found = { memory: { dir, version: 2 }, pids: { dir, version: 2 }, why: '' });
      }
    } catch {
      /* fall through */
    }
    return (found = { memory: null, pids: null, why: 'cgroup v2 without the memory controller delegated here' });
  }
  return (found = { memory: null, pids: null, why: 'no memory cgroup controller mounted' });
}

let counter = 0;
let swept = false;

/** Removes cell cgroups left behind by isola processes that died without cleaning up. */
function sweep(parent: string): void {
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

/** Creates the cell's cgroup(s); null (with the reason in cgroupStatus) where not writable here. */
export function createCellCgroup(memoryLimitBytes: number): CellCgroup | null {
  const { memory, pids } = locate();
  if (!memory) return null;
  const name = `isola-${process.pid}-${++counter}`;
  const made: string[] = [];
  try {
    if (!swept) {
      swept = true;
      sweep(memory.dir);
      if (pids && pids.dir !== memory.dir) sweep(pids.dir);
    }
    const mem = join(memory.dir, name);
    mkdirSync(mem);
    made.push(mem);
    const limit = String(Math.floor(memoryLimitBytes));
    if (memory.version === 2) {
      writeFileSync(join(mem, 'memory.max'), limit);
      tryWrite(join(mem, 'memory.swap.max'), '0');
      tryWrite(join(mem, 'pids.max'), String(MAX_TASKS));
    } else {
      writeFileSync(join(mem, 'memory.limit_in_bytes'), limit);
      tryWrite(join(mem, 'memory.memsw.limit_in_bytes'), limit); // no swapping past the cap
      if (pids) {
        const p = join(pids.dir, name);
        mkdirSync(p);
        made.push(p);
        writeFileSync(join(p, 'pids.max'), String(MAX_TASKS));
      }
    }
  } catch {
    for (const d of made.reverse()) rmQuietly(d);
    return null;
  }
  return { procsFiles: made.map((d) => join(d, 'cgroup.procs')), remove: () => removeLater(made.reverse()) };
}

function tryWrite(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch {
    /* optional knob */
  }
}

let status: { ok: boolean; why?: string } | undefined;
/** Whether a cell cgroup with a memory cap can be made here (probed once by making one). */
export function cgroupStatus(): { ok: boolean; why?: string } {
  if (status) return status;
  const where = locate();
  if (!where.memory) return (status = { ok: false, why: where.why });
  const probe = createCellCgroup(64 << 20);
  if (!probe) return (status = { ok: false, why: `cannot create a child cgroup in ${where.memory.dir} (not writable)` });
  for (const f of probe.procsFiles) rmQuietly(join(f, '..'));
  const kind = where.memory.version === 2 ? 'v2' : `v1 memory${where.pids ? ' + pids' : ''}`;
  return (status = { ok: true, why: `${kind} under ${where.memory.dir}` });
}
