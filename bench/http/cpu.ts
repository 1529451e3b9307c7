// CPU time of a server and everything it started (cells, their jail tools), from /proc, so that a figure
// per request counts all the work a request costs and not only what one process did. A process that died
// meanwhile (a recycled cell) is counted through its reaper's cutime/cstime; every live process of the tree
// counts its own time plus that of the children it reaped.
import { readdirSync } from 'node:fs';
import { CLOCK_TICKS_PER_SECOND, procStatFields } from '../../src/cells/proc-stat.js';

interface Stat { ppid: number; ticks: number }

function readStat(pid: number): Stat | null {
  const f = procStatFields(`/proc/${pid}/stat`); // null: gone between the listing and the read
  return f && { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

/** CPU ms used so far by `root` and all its live descendants (with what each reaped). */
export function treeCpuMs(root: number): number {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
