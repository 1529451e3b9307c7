// Hostile components: each attack ends with its own clear error, and the host goes on running others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/index.js';
import { compileComponentFixture } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;
type Fn = (...a: unknown[]) => unknown;

async function stillServes(): Promise<void> {
  const calc = await compileComponentFixture('calc');
  assert.equal((calc.instantiate({ host: { log() {} } }).exports.add as Fn)(20, 22), 42);
}

test('an endless loop ends with FUEL under a budget and with TIMEOUT under a deadline', async () => {
  const c = await compileComponentFixture('hostile', { fuel: true });
  assert.throws(() => (c.instantiate({}, { fuel: 1_000_000 }).exports.spin as Fn)(), isCode('FUEL'));
  const t0 = performance.now();
  assert.throws(() => (c.instantiate({}, { timeoutMs: 100 }).exports.spin as Fn)(), isCode('TIMEOUT'));
  assert.ok(performance.now() - t0 < 5000);
  await stillServes();
});

test('limits hold without asking at compile time: a fuel limit compiles metered core modules', async () => {
  const c = await compileComponentFixture('hostile');
  assert.throws(() => (c.instantiate({}, { fuel: 10_000 }).exports.spin as Fn)(), isCode('FUEL'));
});

test('one budget spans the instance: fuel spent is counted, and a budget spent by one call ends the next', async () => {
  const c = await compileComponentFixture('hostile', { fuel: true });
  const inst = c.instantiate({}, { fuel: 50_000 });
  assert.equal((inst.exports.recurse as Fn)(100), 100);
  const spent = inst.fuelConsumed;
  assert.ok(spent > 100n, `fuel counted: ${spent}`);
  assert.throws(() => { for (;;) (inst.exports.recurse as Fn)(1000); }, isCode('FUEL'));
});

test('a memory bomb stops at the cap, inside the guest', async () => {
  const c = await compileComponentFixture('hostile', { maxMemoryBytes: 1 << 20 });
  assert.equal((c.instantiate({}).exports.grow as Fn)(), 16);
  await stillServes();
});

test('deep recursion and unreachable are TRAP errors; the host carries on', async () => {
  const c = await compileComponentFixture('hostile');
  assert.throws(() => (c.instantiate({}).exports.recurse as Fn)(10_000_000), (e: unknown) => isCode('TRAP')(e) && /stack overflow|call stack/.test((e as Error).message));
  assert.throws(() => (c.instantiate({}).exports.boom as Fn)(), (e: unknown) => isCode('TRAP')(e) && /unreachable/.test((e as Error).message));
  await stillServes();
});
