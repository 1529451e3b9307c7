// A trapping guest, a capped output and repeated runs: clear errors, reported truncation, no state
// carried from one run into the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIsolaError } from '../../src/index.js';
import { OutputCapture, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFixture as compile, tempDir, viaCli } from './helpers.js';

test('cli: a trapping guest keeps what it printed, reports the trap on stderr and exits non-zero', () => {
  const r = viaCli({ guest: 'trap' });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, 'before trap\n');
  assert.match(r.stderr, /wasm trap: unreachable/);
});

test('library: a trapping guest throws IsolaError TRAP after its output', () => {
  const stdout = new OutputCapture(1024);
  assert.throws(() => runWasiCommand(compile('trap'), { stdout }),
    (err: unknown) => isIsolaError(err) && err.code === 'TRAP');
  assert.equal(stdout.text(), 'before trap\n');
});

test('library: a capped stdout stops at its cap and reports truncation; the guest still succeeds', () => {
  const stdout = new OutputCapture(5);
  const code = runWasiCommand(compile('hello'), { stdout });
  assert.equal(code, 0);
  assert.equal(stdout.text(), 'hello');
  assert.equal(stdout.truncated, true);
  const roomy = new OutputCapture(1024);
  runWasiCommand(compile('hello'), { stdout: roomy });
  assert.equal(roomy.truncated, false);
});

test('library: every run of one compiled module starts from a fresh instance', () => {
  const tmp = tempDir('counter');
  try {
    const module = compile('counter');
    for (let i = 0; i < 3; i++) {
      const stdout = new OutputCapture(100);
      assert.equal(runWasiCommand(module, { stdout, preopens: [{ hostPath: tmp.path, guestPath: '/state' }] }), 0);
      assert.equal(stdout.text(), 'runs in memory: 1\n');
    }
    assert.equal(readFileSync(join(tmp.path, 'runs.txt'), 'utf8'), 'xxx');
  } finally {
    tmp.remove();
  }
});
