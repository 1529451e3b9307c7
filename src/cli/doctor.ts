/**
 * `isola doctor`: which walls this machine builds, each with ok/no and why, and what a `process` cell actually
 * gets. Where a jail tool works, the process walls are proven by a probe cell (cells/probe-cell.ts: a real
 * process cell, started as the server starts one, reporting what it sees), never read off flags: a jail in
 * which no cell starts shows every process wall down, and says why. Informational: always exits 0.
 */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { probeProcessCell } from '../cells/index.js';
import { jailSupport, type Wall } from '../cells/jail/index.js';
import type { Recorder } from './program.js';
import { writeStdout } from './stdout.js';

export function doctorCommand(program: Command, record: Recorder): void {
  program.command('doctor')
    .description('show which isolation walls this machine supports, and why not')
    .option('--json', 'machine-readable output')
    .action(record(async (o: { json?: boolean }) => doctor(o.json === true)));
}

export interface DoctorReport {
  walls: Record<string, Wall>;
  /** What `--isolation process` (the default) gets here; `probed`: a probe cell started and answered. */
  process: { isolation: 'process' | 'worker'; tool: string | null; probed: boolean; reasons: string[] };
}

/** Walls only a running cell can show; shown in this order, after the tools. */
const PROVEN = ['process cell', 'user namespace', 'pid namespace', 'network namespace', 'ipc namespace', 'uts namespace',
  'mount namespace', 'seccomp', 'set-uid files', 'host uid', 'cgroup memory', 'cgroup cpu', 'rlimits', 'node permissions'];

function wasmWall(): Wall {
  return typeof WebAssembly === 'object' && typeof WebAssembly.Module === 'function'
    ? { ok: true, why: `V8 ${process.versions.v8} (Node ${process.version}): bounds-checked linear memory, fuel, memory caps` }
    : { ok: false, why: 'this Node has no WebAssembly' };
}

/** The first `flags` line of /proc/cpuinfo as a set. */
function cpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set((line?.[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

function microvmWall(): Wall {
  if (process.platform !== 'linux') return { ok: false, why: 'KVM is Linux-only' };
  const flags = cpuFlags();
  const hw = flags.has('vmx') || flags.has('svm');
  if (!existsSync('/dev/kvm')) return { ok: false, why: `no /dev/kvm${hw ? '' : ' and no vmx/svm CPU flag (nested virtualization is off)'}` };
  if (existsSync('/sys/module/kvm_pvm')) {
    return {
      ok: false,
      why: '/dev/kvm is present but is kvm-pvm (software "pagetable virtual machine", no vmx/svm exposed): it boots only ' +
        'PVM-aware guest kernels, so Firecracker or Cloud Hypervisor with a stock microVM kernel cannot run; see docs/microvm.md',
    };
  }
  if (!hw) return { ok: false, why: '/dev/kvm is present but the CPU shows no vmx/svm: hardware virtualization is not usable' };
  return { ok: false, why: '/dev/kvm with hardware virtualization is present, but isola has no microvm driver yet (docs/microvm.md)' };
}

export async function doctorReport(): Promise<DoctorReport> {
  const jail = jailSupport();
  const probe = jail.process ? await probeProcessCell() : null;
  const walls: Record<string, Wall> = { 'wasm sandbox': wasmWall() };
  for (const tool of ['bubblewrap', 'unshare']) if (jail.walls[tool]) walls[tool] = jail.walls[tool]!;
  for (const name of PROVEN) {
    const seen = probe?.walls[name];
    if (seen) walls[name] = seen;
    else if (probe !== null) walls[name] = { ok: false, why: 'unproven: no process cell started (see process cell)' };
    else if (name === 'process cell') walls[name] = { ok: false, why: `not tried: no jail here (${jail.reasons.join('; ') || 'no jail tool'})` };
    else if (jail.walls[name]) walls[name] = jail.walls[name]!;
  }
  walls['microvm'] = microvmWall();
  const cellStarts = probe?.started === true;
  return {
    walls,
    process: {
      isolation: cellStarts ? 'process' : 'worker', tool: jail.tool, probed: cellStarts,
      reasons: cellStarts ? [] : probe ? [probe.why ?? 'the probe cell failed'] : jail.reasons,
    },
  };
}

function formatReport(r: DoctorReport): string {
  const width = Math.max(...Object.keys(r.walls).map((k) => k.length));
  const lines = [`isola doctor: the walls this machine can build${r.process.probed ? ', as a probe cell saw them' : ''}`, ''];
  for (const [name, w] of Object.entries(r.walls)) {
    lines.push(`  ${w.ok ? 'ok' : 'no'}  ${name.padEnd(width)}${w.why ? `  ${w.why}` : ''}`);
  }
  lines.push('');
  if (r.process.isolation === 'process') {
    // unshare is only the fallback tool and microvm a future driver: neither weakens the process jail.
    const missing = Object.entries(r.walls).filter(([n, w]) => !w.ok && n !== 'microvm' && n !== 'unshare').map(([n]) => n);
    lines.push(`process cells: jailed with ${r.process.tool}` + (missing.length ? ` (without: ${missing.join(', ')})` : ', every wall above up (seen by a probe cell)'));
  } else {
    lines.push(`process cells: not available here, --isolation process falls back to worker cells (${r.process.reasons.join('; ')})`);
  }
  return lines.join('\n') + '\n';
}

export async function doctor(json: boolean): Promise<number> {
  const report = await doctorReport();
  writeStdout(json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return 0;
}
