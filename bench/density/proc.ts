// Memory of a server and everything it started, from /proc: PSS (proportional set size: each shared page
// counted once across all the processes that map it, split between them), which sums honestly over a process
// tree where RSS would count the node binary and every shared library once per cell. A cell is a jail
// launcher (bwrap) and a node agent below it; the tree is found through the ppid of every process.
import { readdirSync, readFileSync } from 'node:fs';
import { procStatFields } from '../../src/cells/proc-stat.js';

export const MIB = 1024; // KiB per MiB: /proc reports kB
export const fmtMiB = (kib: number): string => `${(kib / MIB).toFixed(kib < 10 * MIB ? 1 : 0)} MiB`;

/** `root` and all its live descendants (root first), from the ppid of every process in /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = procStatFields(`/proc/${name}/stat`); // null: gone between the listing and the read
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(name));
    else children.set(ppid, [Number(name)]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A field of /proc/PID/smaps_rollup in KiB (Pss, Rss, …), or null when the process is gone. */
export function rollupKiB(pid: number, field = 'Pss'): number | null {
  const text = readOr(`/proc/${pid}/smaps_rollup`);
  if (text === null) return null;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`/proc/${pid}/smaps_rollup has no ${field} line (cannot read another user's process?)`);
  return Number(m[1]);
}

export const comm = (pid: number): string => readOr(`/proc/${pid}/comm`)?.trim() ?? '';
/** A node process: its command is `node` (newer Node names its main thread `node-MainThread`). */
export const isNode = (pid: number): boolean => /^node\b/.test(comm(pid));

export interface TreeMemory {
  /** PSS of the server and all its descendants. */
  totalKiB: number;
  /** PSS of the server process alone. */
  serverKiB: number;
  /** Processes in the tree, the server included. */
  processes: number;
  /** Node processes below the server: the jailed agents (one per process cell, spares included). */
  agents: number;
}

export function treeMemory(root: number): TreeMemory {
  const pids = processTree(root);
  let totalKiB = 0;
  let serverKiB = 0;
  let agents = 0;
  let processes = 0;
  for (const pid of pids) {
    const pss = rollupKiB(pid);
    if (pss === null) continue;
    processes += 1;
    totalKiB += pss;
    if (pid === root) serverKiB = pss;
    else if (isNode(pid)) agents += 1;
  }
  if (processes === 0) throw new Error(`process ${root} is gone`);
  return { totalKiB, serverKiB, processes, agents };
}

export const fmtTree = (m: TreeMemory): string => `${fmtMiB(m.totalKiB)} (server ${fmtMiB(m.serverKiB)}, ${m.agents} cell${m.agents === 1 ? '' : 's'} + launchers ${fmtMiB(m.totalKiB - m.serverKiB)})`;

/** MemAvailable and MemTotal of the machine, KiB. */
export function machineMemory(): { availableKiB: number; totalKiB: number } {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { availableKiB: get('MemAvailable'), totalKiB: get('MemTotal') };
}

/**
 * Stops a scenario before it runs the machine out of memory (a server without scale to zero keeps a jailed
 * process per function: 10,000 of them would not fit): throws when the tree's PSS passes `capKiB` or the
 * machine has less than 15% (at least 2 GiB) available. `checkTree` false: only the cheap machine-wide check.
 */
export function memoryGuard(root: number, capKiB: number, where: string, checkTree: boolean): TreeMemory | null {
  const { availableKiB, totalKiB } = machineMemory();
  const floor = Math.max(2 * MIB * MIB, 0.15 * totalKiB);
  if (availableKiB < floor) {
    throw new Error(`stopped ${where}: the machine has ${fmtMiB(availableKiB)} available (a guard: below ${fmtMiB(floor)})`);
  }
  if (!checkTree) return null;
  const m = treeMemory(root);
  if (m.totalKiB > capKiB) {
    throw new Error(`stopped ${where}: the server's tree holds ${fmtMiB(m.totalKiB)} PSS in ${m.agents} cells, past the guard of ${fmtMiB(capKiB)}`);
  }
  return m;
}

// ---- what one process's memory is made of (/proc/PID/smaps) ----

export type Group = 'node binary' | 'shared libraries' | 'anonymous (V8 heap, malloc, Wasm)' | 'malloc heap [heap]' | 'stacks' | 'other files' | 'kernel ([vdso], [vvar], …)';
export interface GroupFigures { pssKiB: number; rssKiB: number; privateKiB: number }

function groupOf(path: string, nodeBinary: RegExp): Group {
  if (path === '') return 'anonymous (V8 heap, malloc, Wasm)';
  if (path === '[heap]') return 'malloc heap [heap]';
  if (path.startsWith('[stack')) return 'stacks';
  if (path.startsWith('[anon') ) return 'anonymous (V8 heap, malloc, Wasm)';
  if (path.startsWith('[')) return 'kernel ([vdso], [vvar], …)';
  if (nodeBinary.test(path)) return 'node binary';
  if (/\.so(\.[\d.]+)?( \(deleted\))?$/.test(path)) return 'shared libraries';
  return 'other files';
}

/**
 * PSS, RSS and private (clean + dirty) KiB of `pid`'s mappings, by group. Paths are as the process sees them
 * (a jailed agent sees its own mount namespace; the node binary is mounted at its host path). Thread stacks
 * are anonymous mappings: only the main thread's shows as [stack].
 */
export function smapsGroups(pid: number, nodeBinary = /(^|\/)node$/): Map<Group, GroupFigures> {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const groups = new Map<Group, GroupFigures>();
  let current: GroupFigures | null = null;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const g = groupOf(head[1]!.trim(), nodeBinary);
      current = groups.get(g) ?? { pssKiB: 0, rssKiB: 0, privateKiB: 0 };
      groups.set(g, current);
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!field || !current) continue;
    const kib = Number(field[2]);
    if (field[1] === 'Pss') current.pssKiB += kib;
    else if (field[1] === 'Rss') current.rssKiB += kib;
    else if (field[1] === 'Private_Clean' || field[1] === 'Private_Dirty') current.privateKiB += kib;
  }
  return groups;
}
