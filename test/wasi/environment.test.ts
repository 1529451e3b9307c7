// No ambient authority: with nothing granted a guest sees no environment and no files; an
// explicit --env NAME=VALUE or --env NAME (the host's value) is all it sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RUNNERS, compileFixture, fixture, results, spawnIsola } from './helpers.js';
import { IsolaError } from '../../src/errors.js';
import { OutputCapture, WasiP1, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';

for (const [via, run] of RUNNERS) {
  test(`${via}: with nothing granted the environment is empty and there are no preopens`, () => {
    const r = run({ guest: 'env' });
    assert.equal(r.code, 0, r.stderr);
    const got = results(r.stdout);
    assert.equal(got.get('environ count'), '0');
    assert.equal(got.get('environ bytes'), '0');
    assert.ok(!r.stdout.includes('PATH='), r.stdout);
    const paths = run({ guest: 'paths' }); // fd 3 must not exist
    assert.equal(results(paths.stdout).get('preopen'), 'EBADF');
    assert.equal(paths.code, 1);
  });

  test(`${via}: granted variables arrive exactly, values with = and newlines intact`, () => {
    const env = { A: 'one', B: 'x=y', EMPTY: '' };
    const r = run({ guest: 'env', env, args: ['first', 'the "second" arg'] });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('arg ')).slice(1), ['arg 1: first', 'arg 2: the "second" arg']);
    assert.deepEqual(lines.filter((l) => l.startsWith('env: ')).sort(), ['env: A=one', 'env: B=x=y', 'env: EMPTY=']);
  });
}

test('cli: --env NAME passes the host value of NAME and nothing else', () => {
  const hostEnv = { ...process.env, ISOLA_PASSED: 'from the host', ISOLA_NOT_PASSED: 'hidden' };
  const r = spawnIsola(['run', '--env', 'ISOLA_PASSED', '--env', 'GIVEN=1', fixture('env')], { hostEnv });
  assert.equal(r.code, 0, r.stderr);
  const env = r.stdout.split('\n').filter((l) => l.startsWith('env: ')).sort();
  assert.deepEqual(env, ['env: GIVEN=1', 'env: ISOLA_PASSED=from the host']);
  assert.ok(!r.stdout.includes('hidden'));
});

test('cli: argv[0] is the file and the arguments follow it', () => {
  const r = spawnIsola(['run', fixture('env'), 'a', '--not-an-isola-flag']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^arg 0: .*env\.wasm$/m);
  assert.match(r.stdout, /^arg 1: a$/m);
  assert.match(r.stdout, /^arg 2: --not-an-isola-flag$/m);
});

test('library: an environment passed encoded (environ, as a process cell does) reaches the guest as the same strings', () => {
  const stdout = new OutputCapture(1 << 20);
  const bytes = new TextEncoder().encode('A=one\0B=x=y\0EMPTY=\0ÜNÏ=cödé\0');
  const code = runWasiCommand(compileFixture('env'), { args: ['env.wasm'], environ: { count: 4, bytes }, stdout });
  assert.equal(code, 0);
  const env = stdout.text().split('\n').filter((l) => l.startsWith('env: ')).sort();
  assert.deepEqual(env, ['env: A=one', 'env: B=x=y', 'env: EMPTY=', 'env: ÜNÏ=cödé']);
  assert.equal(results(stdout.text()).get('environ count'), '4');
});

test('library: an encoded environment that does not hold what it declares is refused before the guest runs', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  for (const [count, block] of [[2, 'A=1\0'], [1, 'A=1\0B=2\0'], [1, 'A=1'], [1, 'NOEQUALS\0'], [0, 'A=1\0']] as const) {
    assert.throws(() => new WasiP1({ environ: { count, bytes: enc(block) } }),
      (e: unknown) => e instanceof IsolaError && e.code === 'USAGE' && /encoded environment/.test(e.message), `${count} ${JSON.stringify(block)}`);
  }
});
