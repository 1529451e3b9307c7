// Another toolchain's component: JavaScript on QuickJS (componentize-qjs, pre-initialised by Wizer, so its
// core module uses extended constant expressions, which Node 20 accepts only once isola enables them). It
// imports the WASI 0.2 of wasi:cli; isola's host serves it in every isolation, with the same limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnIsola } from '../wasi/helpers.js';
import { componentFixture, compileComponentFixture } from './helpers.js';
import { WasiP2, IsolaError } from '../../src/index.js';

const JS = componentFixture('js-guest');

test('library: typed calls into a QuickJS component, with WASI 0.2 from isola', async () => {
  const c = await compileComponentFixture('js-guest', { fuel: true });
  const wasi = new WasiP2({});
  const { exports } = c.instantiate(wasi.imports, { fuel: 1e9 });
  assert.equal((exports.greet as (n: string) => string)('lib'), 'hello, lib from QuickJS');
  assert.equal((exports.clockOk as () => boolean)(), true);
  assert.throws(() => (c.instantiate(new WasiP2({}).imports, { fuel: 5_000_000 }).exports.spin as () => void)(), (e: unknown) => e instanceof IsolaError && e.code === 'FUEL');
});

for (const iso of [[], ['--isolation', 'worker'], ['--isolation', 'process']]) {
  const via = iso.length ? iso[1] : 'in-thread';
  test(`${via}: isola run --invoke calls it; its errors, loops and traps end as they should`, () => {
    const run = (...args: string[]) => spawnIsola(['run', ...iso, ...args, JS]);
    assert.deepEqual(Object.values(run('--invoke', 'greet("isola ✓")')), [0, '"hello, isola ✓ from QuickJS"\n', '']);
    assert.deepEqual(Object.values(run('--invoke', 'sum([1, 2, -5, 100])')), [0, '98\n', '']);
    assert.deepEqual(Object.values(run('--invoke', 'clock-ok()')), [0, 'true\n', '']);
    const fail = run('--invoke', 'fail("boom")');
    assert.equal(fail.code, 1);
    assert.match(fail.stderr, /message: Some\("boom"\)/, 'what the guest wrote to stderr before it trapped');
    assert.match(fail.stderr, /\nerror: wasm trap: unreachable\n$/);
    assert.deepEqual(Object.values(run('--timeout', '300ms', '--invoke', 'spin()')), [1, '', 'error: timed out after 300ms\n']);
    assert.deepEqual(Object.values(run('--fuel', '10000000', '--invoke', 'spin()')), [1, '', 'error: fuel exhausted after 10000000 units\n']);
  });
}
