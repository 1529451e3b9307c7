// `isola run --isolation inline|worker|process` prints what plain `isola run` prints, for every mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertFails, isola } from '../cli/support.js';

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
];

for (const c of CASES) {
  test(`--isolation gives the same output: ${c.name}`, () => {
    const plain = isola(['run', ...c.args], { input: c.input });
    for (const wall of ['inline', 'worker', 'process']) {
      const r = isola(['run', '--isolation', wall, ...c.args], { input: c.input });
      assert.equal(r.stdout, plain.stdout, `${wall} stdout`);
      // Where no jail can be built, `process` falls back to a worker and says so in one line: not a difference.
      assert.equal(r.stderr.replace(/^isola: process cells need a jail.*\n/m, ''), plain.stderr, `${wall} stderr`);
      assert.equal(r.status, plain.status, `${wall} status`);
    }
  });
}

test('--isolation refuses an unknown wall', () => {
  assertFails(isola(['run', '--isolation', 'vm', 'examples/reverse.wasm']), "--isolation 'vm': expected inline, worker or process", { status: 2, usage: true });
});
