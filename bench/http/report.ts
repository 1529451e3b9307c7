// docs/benchmarks.md: the hand-written method stays; the results section between the markers is
// replaced by each run, with the machine it ran on.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { workerdVersion } from './workerd.js';

/** The markers around one benchmark's section (bench:http, bench:kv). */
const markers = (bench: string): { begin: string; end: string } => ({
  begin: `<!-- bench:${bench} results (written by npm run bench:${bench}) -->`,
  end: `<!-- /bench:${bench} results -->`,
});

export function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]!.trim() || 'unknown';
  }
}

export async function machineDetails(): Promise<string[]> {
  const cpu = cpus();
  return [
    `date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `CPU: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}, RAM ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`,
    `node ${process.version}; ${workerdVersion()}; ${firstLine('wrk', ['--version']).replace(/ Copyright.*/, '')}`,
  ];
}

/**
 * Replaces `bench`'s section (between its markers; appended at the end the first time) with `intro` (lines
 * the run writes before its table, e.g. a heading), the table, the footer and the machine's details.
 */
export function writeBenchmarksDoc(path: string, table: string, footer: string, machine: string[], bench = 'http', intro: string[] = []): void {
  const { begin: BEGIN, end: END } = markers(bench);
  const section = [BEGIN, '', ...intro, table, '', footer, '', ...machine.map((m) => `- ${m}`), '', END].join('\n');
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const at = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  const next = at >= 0 && end > at ? doc.slice(0, at) + section + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}
