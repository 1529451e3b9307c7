/**
 * The launcher: a tiny /bin/sh script (one exec, ~1 ms) that puts itself into the cell's cgroups and sets
 * the resource limits, then execs the jail tool, which inherits both. Node has no setrlimit of its own.
 *
 * Limits: open files (soft = hard, so Node's startup raise to the hard limit gains nothing), core dumps
 * off. Processes are capped by the cgroup's pids.max and refused outright by seccomp; RLIMIT_NPROC is not
 * used: it counts every process of the host user (useless as root, a trap for anyone else). No
 * RLIMIT_AS either: V8 reserves large virtual ranges (Wasm guard regions), so memory is capped by the
 * cgroup, else by V8's heap limit.
 */
import { IsolaError } from '../../errors.js';

export const SHELL = '/bin/sh';

const SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; ' +
  'ulimit -c 0 && ulimit -n "$1" || exit 125; shift; exec "$@"';

export interface LauncherInput {
  procsFiles: string[];
  maxOpenFiles: number;
  command: string;
  args: string[];
}

/** argv for SHELL: joins the cgroups, sets the limits, execs `command args…`. Exit 125 = launcher failed. */
export function launcherArgs(input: LauncherInput): string[] {
  const n = input.maxOpenFiles;
  if (!Number.isInteger(n) || n < 32 || n > 1 << 20) {
    throw new IsolaError('JAIL', `maxOpenFiles must be an integer from 32 to ${1 << 20}, got ${n}`);
  }
  return ['-c', SCRIPT, 'isola-jail', String(input.procsFiles.length), ...input.procsFiles, String(n), input.command, ...input.args];
}
