// Runs the official WASI test suite (WebAssembly/wasi-testsuite, wasm32-wasip1 binaries) the way
// its wasmtime adapter does, against `isola run` or against Node's node:wasi for a baseline:
//
//   npm run conformance -- PATH_TO_SUITE [--runtime isola|node-wasi] [--filter SUBSTRING]
//
// For every `*.wasm` under PATH_TO_SUITE (skipping `wasm32-*` folders other than wasm32-wasip1), the optional `<name>.json` next to it gives `args`,
// `env`, `root` (relative to the test's directory, preopened as `/`), `exit_code` (default 0)
// and `stdout`/`stderr` (default: not checked). Like the suite's runner, an expected output is
// compared with that many leading characters of the actual one. `*.cleanup` files and
// directories are deleted before and after each test. The last line printed is exactly
// `N passed, M failed`; the exit status is 0 only when nothing failed.
//
// `--node-wasi-harness JSON` is the internal mode that runs one module under node:wasi.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const ISOLA = join(ROOT, 'bin', 'isola.js');
const TIMEOUT_MS = 60_000;

type Runtime = 'isola' | 'node-wasi';

interface TestSpec {
  args: string[];
  env: Record<string, string>;
  root: string | null;          // absolute host path, preopened as "/"
  exitCode: number;
  stdout: string | null;
  stderr: string | null;
}

/** What the node:wasi harness needs to run one module. */
export interface NodeWasiSpec { file: string; args: string[]; env: Record<string, string>; dirs: Array<[string, string]> }

/** The argv (after `node`) that runs one module under node:wasi with real stdio. */
export function nodeWasiArgv(spec: NodeWasiSpec): string[] {
  return ['--no-warnings', SELF, '--node-wasi-harness', JSON.stringify(spec)];
}

function readSpec(wasm: string): TestSpec {
  const spec: TestSpec = { args: [], env: {}, root: null, exitCode: 0, stdout: null, stderr: null };
  const jsonPath = wasm.replace(/\.wasm$/, '.json');
  if (!existsSync(jsonPath)) return spec;
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  // The operation-based format ({operations: [run, read, wait]}) carries the same fields.
  const ops = Array.isArray(json.operations) ? (json.operations as Array<Record<string, unknown>>) : [{ type: 'legacy', ...json }];
  for (const op of ops) {
    if (op.type === 'run' || op.type === 'legacy') {
      if (Array.isArray(op.args)) spec.args = op.args.map(String);
      if (op.env && typeof op.env === 'object') spec.env = op.env as Record<string, string>;
      if (typeof op.root === 'string') spec.root = resolve(dirname(wasm), op.root);
    }
    if (op.type === 'legacy') {
      if (typeof op.exit_code === 'number') spec.exitCode = op.exit_code;
      if (typeof op.stdout === 'string') spec.stdout = op.stdout;
      if (typeof op.stderr === 'string') spec.stderr = op.stderr;
    } else if (op.type === 'wait') {
      spec.exitCode = typeof op.exit_code === 'number' ? op.exit_code : 0;
    } else if (op.type === 'read') {
      const payload = typeof op.payload === 'string' ? op.payload : '';
      if (op.id === 'stderr') spec.stderr = payload;
      else spec.stdout = payload;
    }
  }
  return spec;
}

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    // The suite also ships other targets (wasm32-wasip3 components): preview 1 only.
    if (entry.isDirectory()) {
      if (!/^wasm32-/.test(entry.name) || entry.name === 'wasm32-wasip1') out.push(...findTests(p));
    }
    else if (entry.isFile() && entry.name.endsWith('.wasm')) out.push(p);
  }
  return out.sort();
}

/** Deletes every `*.cleanup` file, directory or symlink under dir. */
function removeCleanups(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.name.endsWith('.cleanup')) rmSync(p, { recursive: true, force: true });
    else if (entry.isDirectory() && !lstatSync(p).isSymbolicLink()) removeCleanups(p);
  }
}

function command(runtime: Runtime, wasm: string, spec: TestSpec): string[] {
  if (runtime === 'node-wasi') {
    return nodeWasiArgv({ file: wasm, args: spec.args, env: spec.env, dirs: spec.root ? [[spec.root, '/']] : [] });
  }
  const argv = [ISOLA, 'run'];
  for (const [k, v] of Object.entries(spec.env)) argv.push('--env', `${k}=${v}`);
  if (spec.root) argv.push('--dir', `${spec.root}::/`);
  return [...argv, wasm, ...spec.args];
}

/** Runs one test; returns null when it passed, else why it failed. */
function runTest(runtime: Runtime, wasm: string): string | null {
  const spec = readSpec(wasm);
  const cleanDir = spec.root ?? dirname(wasm);
  removeCleanups(cleanDir);
  try {
    const r = spawnSync(process.execPath, command(runtime, wasm, spec), {
      input: '', encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 << 20,
    });
    const problems: string[] = [];
    if (r.error) problems.push(`did not run: ${r.error.message}`);
    else if (r.status !== spec.exitCode) problems.push(`exit code ${r.status ?? r.signal}, expected ${spec.exitCode}`);
    if (spec.stdout !== null && r.stdout.slice(0, spec.stdout.length) !== spec.stdout) {
      problems.push(`stdout ${JSON.stringify(r.stdout)}, expected ${JSON.stringify(spec.stdout)}`);
    }
    if (spec.stderr !== null && r.stderr.slice(0, spec.stderr.length) !== spec.stderr) {
      problems.push(`stderr ${JSON.stringify(r.stderr)}, expected ${JSON.stringify(spec.stderr)}`);
    }
    if (!problems.length) return null;
    const stderr = r.stderr?.trim();
    return problems.join('; ') + (stderr ? `\n    stderr: ${stderr.split('\n').slice(-6).join('\n            ')}` : '');
  } finally {
    removeCleanups(cleanDir);
  }
}

function parseArgs(argv: string[]): { suite: string; runtime: Runtime; filter: string | null } {
  let suite: string | null = null;
  let runtime: Runtime = 'isola';
  let filter: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runtime') {
      const v = argv[++i];
      if (v !== 'isola' && v !== 'node-wasi') throw new Error(`--runtime must be isola or node-wasi, not ${v}`);
      runtime = v;
    } else if (a === '--filter') {
      filter = argv[++i] ?? null;
    } else if (!a.startsWith('--') && suite === null) {
      suite = resolve(a);
    } else {
      throw new Error(`unexpected argument ${a}`);
    }
  }
  if (!suite) throw new Error('usage: conformance PATH_TO_SUITE [--runtime isola|node-wasi] [--filter SUBSTRING]');
  return { suite, runtime, filter };
}

function main(argv: string[]): number {
  const { suite, runtime, filter } = parseArgs(argv);
  const tests = findTests(suite).filter((t) => !filter || t.includes(filter));
  const failures: string[] = [];
  for (const wasm of tests) {
    const why = runTest(runtime, wasm);
    if (why) failures.push(`FAIL ${relative(suite, wasm)}: ${why}`);
  }
  for (const f of failures) console.log(f);
  console.log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  return failures.length === 0 && tests.length > 0 ? 0 : 1;
}

async function nodeWasiHarness(json: string): Promise<number> {
  const { WASI } = await import('node:wasi');
  const spec = JSON.parse(json) as NodeWasiSpec;
  const wasi = new WASI({
    version: 'preview1',
    args: [spec.file, ...spec.args],
    env: spec.env,
    preopens: Object.fromEntries(spec.dirs.map(([host, guest]) => [guest, host])),
    returnOnExit: true,
  });
  const module = await WebAssembly.compile(readFileSync(spec.file));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject() as WebAssembly.Imports);
  return wasi.start(instance);
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = process.argv.slice(2);
  try {
    if (args[0] === '--node-wasi-harness') process.exitCode = await nodeWasiHarness(args[1] ?? '{}');
    else process.exitCode = main(args);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  }
}
