// Shared by every WASI test: run a guest from test/fixtures/wasi through the library, the real
// CLI, or Node's own node:wasi (for comparison), and read its "label: RESULT" lines.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/index.js';
import type { CompiledModule } from '../../src/index.js';
import { OutputCapture, runWasiCommand, type WasiOptions } from '../../src/capabilities/wasi-p1/index.js';
import { nodeWasiArgv } from '../../scripts/conformance.js';
import { CLI, fromRoot } from '../helpers/root.js';

export interface Dir { host: string; guest: string; readOnly?: boolean }
export interface GuestRun {
  guest: string;              // fixture name without .wasm
  args?: string[];
  env?: Record<string, string>;
  dirs?: Dir[];
  stdin?: string;
}
export interface RunResult { code: number; stdout: string; stderr: string }
export type Runner = (run: GuestRun) => RunResult;

export const fixture = (name: string): string => fromRoot('test/fixtures/wasi', `${name}.wasm`);
const OUTPUT_CAP = 4 << 20;

const engine = new Engine({ cacheDir: null });
const compiled = new Map<string, CompiledModule>();
/** A fixture compiled once per test process (no disk cache). */
export function compileFixture(name: string): CompiledModule {
  let c = compiled.get(name);
  if (!c) compiled.set(name, (c = engine.compile(readFileSync(fixture(name)))));
  return c;
}

/** In-process, through the public API: runWasiCommand with capped in-memory stdout/stderr. */
export const viaLibrary: Runner = (run) => {
  const stdout = new OutputCapture(OUTPUT_CAP);
  const stderr = new OutputCapture(OUTPUT_CAP);
  const code = runWasiCommand(compileFixture(run.guest), wasiOptionsFor(run, stdout, stderr));
  return { code, stdout: stdout.text(), stderr: stderr.text() };
};

/** The WASI options of a guest run (preview 1 and 0.2 take the same). */
export function wasiOptionsFor(run: GuestRun, stdout: OutputCapture, stderr: OutputCapture): WasiOptions {
  return {
    args: [`${run.guest}.wasm`, ...(run.args ?? [])],
    env: run.env ?? {},
    preopens: (run.dirs ?? []).map((d) => ({ hostPath: d.host, guestPath: d.guest, readOnly: d.readOnly })),
    stdin: new TextEncoder().encode(run.stdin ?? ''),
    stdout,
    stderr,
  };
}

/** The command line a user types; `hostEnv` is the environment of the isola process itself. */
export function cliArgs(run: GuestRun): string[] {
  const flags: string[] = [];
  for (const d of run.dirs ?? []) flags.push(d.readOnly ? '--dir-ro' : '--dir', `${d.host}::${d.guest}`);
  for (const [k, v] of Object.entries(run.env ?? {})) flags.push('--env', `${k}=${v}`);
  return ['run', ...flags, fixture(run.guest), ...(run.args ?? [])];
}

export function spawnIsola(args: string[], opts: { stdin?: string; hostEnv?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.stdin ?? '',
    env: opts.hostEnv ?? process.env,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: OUTPUT_CAP,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** As a separate `isola run` process, exactly as a user would run it. */
export const viaCli: Runner = (run) => spawnIsola(cliArgs(run), { stdin: run.stdin });

/** Node's node:wasi, through the same small harness the conformance script uses. */
export const viaNodeWasi: Runner = (run) => {
  const spec = {
    file: fixture(run.guest),
    args: run.args ?? [],
    env: run.env ?? {},
    dirs: (run.dirs ?? []).map((d): [string, string] => [d.host, d.guest]),
  };
  const r = spawnSync(process.execPath, nodeWasiArgv(spec), {
    input: run.stdin ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

/** Both ways isola runs a guest; every behavioural test loops over these. */
export const RUNNERS: Array<[string, Runner]> = [['library', viaLibrary], ['cli', viaCli]];

/** Parses "label: RESULT" lines into a map (later lines win). */
export function results(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 2));
  }
  return map;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `isola-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** An expected result: one exact value or any of a list. */
export type Expect = string | readonly string[];
/** The errnos wasmtime (cap-std) gives for a path that would leave its directory. */
export const ESCAPE = ['EPERM', 'ENOTCAPABLE'] as const;

/** Checks every expected label at once and reports all mismatches together. */
export function assertResults(r: RunResult, expected: Record<string, Expect>, context = ''): void {
  const got = results(r.stdout);
  const wrong: string[] = [];
  for (const [label, want] of Object.entries(expected)) {
    const ok = typeof want === 'string' ? got.get(label) === want : want.includes(got.get(label) ?? '<missing>');
    if (!ok) wrong.push(`  ${label}: expected ${typeof want === 'string' ? want : want.join('|')}, got ${got.get(label) ?? '<missing>'}`);
  }
  if (wrong.length) {
    throw new Error(`${context}${wrong.length} unexpected results:\n${wrong.join('\n')}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
  }
}
