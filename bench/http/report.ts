// docs/benchmarks.md: the hand-written method stays; the results section between the markers is
// replaced by each run, with the machine it ran on.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { workerdVersion } from './workerd.js';

const BEGIN = '<!-- bench:http results (written by npm run bench:http) -->';
const END = '<!-- /bench:http results -->';

function firstLine(cmd: string, args: string[]): string {
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

export function writeBenchmarksDoc(path: string, table: string, footer: string, machine: string[]): void {
  const section = [BEGIN, '', table, '', footer, '', ...machine.map((m) => `- ${m}`), '', END].join('\n');
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const at = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  const next = at >= 0 && end > at ? doc.slice(0, at) + section + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}
