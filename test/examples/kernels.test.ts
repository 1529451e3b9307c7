import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/index.js';
import { isola, example, exampleBytes, lines } from './support.js';

// Deterministic results (also listed in examples/README.md); small inputs keep the test quick.
const CASES: Array<{ name: string; arg: number; printed: string; value: number }> = [
  { name: 'sha256_bench', arg: 1000, printed: '607335132', value: 607335132 },
  { name: 'matmul_bench', arg: 200, printed: '1737459.9502261642', value: 1737459.9502261642 },
  { name: 'nbody_bench', arg: 1000, printed: '-0.169087605234606', value: -0.169087605234606 },
];

test('cli: each kernel prints its known result', () => {
  for (const c of CASES) {
    const r = isola(['run', '--invoke', c.name, example('kernels.wasm'), String(c.arg)]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(lines(r), [c.printed], c.name);
  }
});

test('library: the same results with and without fuel metering', () => {
  const engine = new Engine({ cacheDir: null });
  const bytes = exampleBytes('kernels.wasm');
  const plain = engine.compile(bytes).instantiate();
  const metered = engine.compile(bytes, { fuel: true }).instantiate(undefined, { fuel: 10n ** 15n });
  for (const c of CASES) {
    assert.deepEqual(plain.invoke(c.name, [c.arg]), [c.value], c.name);
    assert.deepEqual(metered.invoke(c.name, [c.arg]), [c.value], `${c.name} (metered)`);
  }
  assert.ok(metered.fuelConsumed > 1_000_000n, `fuel consumed: ${metered.fuelConsumed}`);
});

test('cli: a small fuel budget stops a kernel with a one-line error', () => {
  const r = isola(['run', '--fuel', '10000', '--invoke', 'sha256_bench', example('kernels.wasm'), '1000']);
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout.length, 0);
  assert.match(r.stderr, /^error: fuel exhausted after \d+ units$/m);
});
