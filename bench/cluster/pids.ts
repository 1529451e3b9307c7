// The pid of a server this bench started, found in /proc by arguments only its command line holds (a data
// directory, a port): the helpers that start the servers (support/cluster.ts, support/kv-servers.ts) do
// not hand pids out. Only direct children of this process are considered.
import { readdirSync, readFileSync } from 'node:fs';
import { procStatFields } from '../../src/cells/proc-stat.js';

function argv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return []; // gone meanwhile
  }
}

/** The one child of this process whose argv holds every one of `args` (as whole arguments). */
export function childWithArgs(...args: string[]): number {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (Number(procStatFields(`/proc/${pid}/stat`)?.[1]) !== process.pid) continue;
    const a = argv(pid);
    if (args.every((x) => a.includes(x))) found.push(pid);
  }
  if (found.length !== 1) throw new Error(`expected one child process with ${args.join(' ')}, found ${found.length}`);
  return found[0]!;
}
