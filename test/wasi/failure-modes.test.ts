// A trapping guest and a capped output: clear errors and reported truncation, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIsolaError } from '../../src/index.js';
import { OutputCapture, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';
import { compileFixture as compile, viaCli } from './helpers.js';

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
