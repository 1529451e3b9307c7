// `isola run --isolation inline|worker|process` prints what plain `isola run` prints, for every mode, and
// prints it as the guest writes it: what came before a trap, a timeout or the cell's death is not lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { assertFails, isola } from '../cli/support.js';
import { CLI, ROOT } from '../helpers/root.js';
import { tempDir, wasmFile } from '../engine/wat.js';
import { deepestDescendant } from '../../src/cells/process-cell.js';
import { printer, sleep } from './guests.js';

const CASES: Array<{ name: string; args: string[]; input?: string }> = [
  { name: '--invoke', args: ['--invoke', 'is_thirteen', 'examples/is-thirteen.wasm', '13'] },
  { name: '--buffer', args: ['--buffer', 'process_data', 'examples/reverse.wasm'], input: 'hello' },
  { name: 'WASI command with stdin', args: ['test/fixtures/wasi/wc.wasm'], input: 'a\nb\nc\n' },
  { name: 'WASI exit code', args: ['test/fixtures/wasi/exit7.wasm'] },
  { name: 'WASI argv, env and a preopen', args: ['--env', 'A=1', '--dir-ro', 'test/fixtures/wasi::/fx', 'test/fixtures/wasi/env.wasm', 'x'] },
  { name: 'fuel exhausted', args: ['--fuel', '1000', '--invoke', 'sha256_bench', 'examples/kernels.wasm', '1000'] },
  { name: 'bad argument', args: ['--invoke', 'is_thirteen', 'examples/is-thirteen.wasm', '4294967296'] },
  { name: 'trap with backtrace', args: ['--backtrace', '--invoke', 'run', 'examples/trap.wasm', '100000000'] },
  { name: 'timeout', args: ['--timeout', '100ms', '--invoke', 'sha256_bench', 'examples/kernels.wasm', '100000000'] },
  { name: 'output, then a timeout', args: ['--timeout', '300ms', 'test/fixtures/cgi/spin.wasm'] },
  { name: 'output, then a trap', args: ['test/fixtures/wasi/trap.wasm'] },
];

/** Where no jail can be built, `process` falls back to a worker and says so in one line: not a difference. */
const withoutFallbackNote = (stderr: string): string => stderr.replace(/^isola: process cells need a jail.*\n/m, '');

for (const c of CASES) {
  test(`--isolation gives the same output: ${c.name}`, () => {
    const plain = isola(['run', ...c.args], { input: c.input });
    for (const wall of ['inline', 'worker', 'process']) {
      const r = isola(['run', '--isolation', wall, ...c.args], { input: c.input });
      assert.equal(r.stdout, plain.stdout, `${wall} stdout`);
      assert.equal(withoutFallbackNote(r.stderr), plain.stderr, `${wall} stderr`);
      assert.equal(r.status, plain.status, `${wall} status`);
    }
  });
}

test('--isolation refuses an unknown wall', () => {
  assertFails(isola(['run', '--isolation', 'vm', 'examples/reverse.wasm']), "--isolation 'vm': expected inline, worker or process", { status: 2, usage: true });
});

interface Running {
  pid: number;
  stdout: () => string;
  /** Resolves once stdout holds `text` (ms since start), or -1 after `ms`. */
  printed(text: string, ms: number): Promise<number>;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** `isola ARGS` in the background, as a user runs it. */
function start(args: string[]): Running {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ISOLA_CACHE_DIR: tempDir('isola-cli-cache-'), ISOLA_BACKTRACE: '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (status) => resolve({ status, stdout: out, stderr: err }));
  });
  return {
    pid: child.pid!,
    stdout: () => out,
    async printed(text, ms) {
      while (!out.includes(text)) {
        if (performance.now() - t0 > ms) return -1;
        await sleep(5);
      }
      return performance.now() - t0;
    },
    done,
  };
}

for (const wall of ['worker', 'process']) {
  test(`--isolation ${wall} prints a running guest's output as it goes`, async () => {
    const run = start(['run', '--isolation', wall, '--timeout', '4s', 'test/fixtures/cgi/spin.wasm']);
    const at = await run.printed('spinning\n', 3500);
    const r = await run.done;
    assert.ok(at >= 0 && at < 3000, `'spinning' came ${at.toFixed(0)} ms after the start of a 4 s guest`);
    assert.equal(r.stdout, 'content-type: text/plain\n\nspinning\n');
    assert.equal(withoutFallbackNote(r.stderr), 'error: timed out after 4s\n');
  });
}

test('--isolation process: a cell killed while its guest is blocked after output prints the output, then the crash', async (t) => {
  const sleeper = wasmFile(printer([[1, 'sleeping\n']], 'sleep'), 'sleeper.wasm');
  const run = start(['run', '--isolation', 'process', sleeper]);
  assert.ok((await run.printed('sleeping\n', 5000)) >= 0, 'the guest printed before it slept');
  const agent = deepestDescendant(run.pid);
  if (agent === undefined || agent === run.pid) {
    t.skip('no jailed process cell here (it fell back to a worker)');
    process.kill(run.pid, 'SIGKILL');
    return;
  }
  process.kill(agent, 'SIGKILL');
  const r = await run.done;
  assert.equal(r.stdout, 'sleeping\n');
  assert.equal(r.stderr, 'error: cell crashed (signal SIGKILL)\n');
  assert.equal(r.status, 1);
});
