/**
 * /proc/PID/stat (or /proc/PID/task/TID/stat), read the one way: the fields after the command name, which may
 * hold spaces and parentheses, hence split after the last ')'. Index 0 is the state (field 3 in proc(5)), so
 * ppid is [1], utime [11], stime [12], cutime [13], cstime [14]; times are in clock ticks.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: what /proc reports CPU times in, 100 on every Linux. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields after the command name, or null if the file cannot be read (the process is gone). */
export function procStatFields(path: string): string[] | null {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}
