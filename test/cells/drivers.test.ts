// Each driver runs the three kinds of invocation with the same results, a fresh instance per
// invocation, and guest errors that arrive as the same IsolaError on the host.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import type { Isolation } from '../../src/cells/types.js';
import { bytes, COPY, COUNTER, fixture, text } from './guests.js';
import { grantToJail } from '../helpers/jail-user.js';

const dir = mkdtempSync(join(tmpdir(), 'isola-cells-'));
writeFileSync(join(dir, 'a.txt'), 'hello');
grantToJail(dir, false);

for (const isolation of ['inline', 'worker', 'process'] as Isolation[]) {
  describe(`${isolation} cell`, () => {
    let cell: SpawnedCell;
    const ready = spawnCell({ isolation, preopens: [{ hostPath: dir, guestPath: '/data', readOnly: true }] }).then((c) => (cell = c));
    after(() => cell?.kill());

    test('reports its wall, and runs an export with exact argument conversion', async () => {
      await ready;
      assert.equal(cell.isolation, isolation);
      assert.equal(cell.alive, true);
      if (isolation === 'process') assert.equal(typeof cell.pid, 'number');
      const m = await cell.load({ bytes: COUNTER });
      const r = await cell.invoke({ module: m, kind: 'invoke', export: 'add', args: ['4294967295', '3'] });
      assert.deepEqual(r.values, ['2']);
      assert.equal(typeof r.durationUs, 'number');
      assert.ok(r.fuelConsumed > 0n, 'modules are compiled with fuel metering');
    });

    test('gives every invocation a fresh instance', async () => {
      await ready;
      const m = await cell.load({ bytes: COUNTER });
      for (let i = 0; i < 3; i++) assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
      assert.ok(cell.invocations >= 3);
    });

    test('runs the buffer ABI and caps its output', async () => {
      await ready;
      const m = await cell.load({ bytes: fixture('examples/reverse.wasm') });
      const r = await cell.invoke({ module: m, kind: 'buffer', input: bytes('hello') });
      assert.equal(text(r.output), 'olleh');
      const capped = await cell.invoke({ module: m, kind: 'buffer', input: bytes('hello'), maxOutputBytes: 2 });
      assert.equal(text(capped.output), 'ol');
      assert.equal(capped.outputTruncated, true);
    });

    test('carries a large buffer input and output exactly, and refuses input larger than the guest buffer', async () => {
      await ready;
      const m = await cell.load({ bytes: COPY });
      const input = new Uint8Array(1 << 20).map((_, i) => (i * 131) >>> 3);
      const r = await cell.invoke({ module: m, kind: 'buffer', input });
      assert.equal(r.output!.length, input.length);
      assert.ok(Buffer.from(r.output!).equals(Buffer.from(input)));
      await assert.rejects(cell.invoke({ module: m, kind: 'buffer', input: new Uint8Array(2555905) }),
        { code: 'BUFFER', message: 'input of 2555905 bytes does not fit the guest buffer of 2555904 bytes' });
      const again = await cell.invoke({ module: m, kind: 'buffer', input: input.subarray(0, 70_000) });
      assert.ok(Buffer.from(again.output!).equals(Buffer.from(input.subarray(0, 70_000))));
    });

    test('runs a WASI command with argv, env, stdin, exit code and a granted preopen', async () => {
      await ready;
      const env = await cell.load({ bytes: fixture('test/fixtures/wasi/env.wasm') });
      const r = await cell.invoke({ module: env, kind: 'wasi', args: ['env', 'x y'], env: { GREETING: 'hi' } });
      assert.equal(r.exitCode, 0);
      assert.match(text(r.output), /arg 1: x y\n[\s\S]*GREETING=hi/);
      const wc = await cell.load({ bytes: fixture('test/fixtures/wasi/wc.wasm') });
      assert.equal(text((await cell.invoke({ module: wc, kind: 'wasi', input: bytes('a\nb\n') })).output), '2 4\n');
      // A large stdin arrives in frames that reuse the socket's buffers: the environment decoded before it must
      // be a copy, not a view they overwrite (it was, once: a CGI body past 256 KiB broke the guest's environment).
      const big = await cell.invoke({ module: env, kind: 'wasi', args: ['env'], env: { GREETING: 'hi', OTHER: 'x'.repeat(100) }, input: new Uint8Array(3 << 20).fill(65) });
      assert.equal(big.exitCode, 0);
      assert.match(text(big.output), /GREETING=hi\n[\s\S]*OTHER=x{100}\n/);
      const exit7 = await cell.load({ bytes: fixture('test/fixtures/wasi/exit7.wasm') });
      assert.equal((await cell.invoke({ module: exit7, kind: 'wasi' })).exitCode, 7);
      const tree = await cell.load({ bytes: fixture('test/fixtures/wasi/tree.wasm') });
      const t = await cell.invoke({ module: tree, kind: 'wasi', args: ['tree', '/data'], preopens: [{ hostPath: dir, guestPath: '/data', readOnly: true }] });
      assert.match(text(t.output), /a\.txt \(5 bytes\)/, text(t.stderr));
    });

    test('refuses preopens the cell was not given, or with more rights', async () => {
      await ready;
      const tree = await cell.load({ bytes: fixture('test/fixtures/wasi/tree.wasm') });
      await assert.rejects(cell.invoke({ module: tree, kind: 'wasi', preopens: [{ hostPath: '/etc', guestPath: '/etc', readOnly: true }] }),
        { code: 'USAGE', message: 'preopen /etc is not granted to this cell' });
      await assert.rejects(cell.invoke({ module: tree, kind: 'wasi', preopens: [{ hostPath: dir, guestPath: '/data' }] }),
        { code: 'USAGE', message: 'preopen /data is read-only in this cell' });
    });

    test('guest failures arrive as the engine\'s IsolaError', async () => {
      await ready;
      const m = await cell.load({ bytes: COUNTER });
      const expectCode = async (p: Promise<unknown>, code: string, message?: RegExp) => {
        await assert.rejects(p, (e: unknown) => e instanceof IsolaError && e.code === code && (message === undefined || message.test(e.message)));
      };
      await expectCode(cell.invoke({ module: m, kind: 'invoke', export: 'add', args: ['4294967296', '1'] }), 'BAD_ARGS', /does not fit i32/);
      await expectCode(cell.invoke({ module: m, kind: 'invoke', export: 'nope' }), 'NO_EXPORT');
      await expectCode(cell.invoke({ module: m, kind: 'invoke', export: 'boom' }), 'TRAP');
      await expectCode(cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { fuel: 10_000 } }), 'FUEL', /fuel exhausted after 10000 units/);
      await expectCode(cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 50 } }), 'TIMEOUT', /timed out after 50ms/);
      await expectCode(cell.invoke({ module: 'not-loaded', kind: 'invoke', export: 'noop' }), 'NOT_FOUND');
      await expectCode(cell.load({ bytes: bytes('not wasm') }), 'DECODE');
      // The cell is still fine.
      assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
    });

    test('unsafeEval is refused unless the test hook was enabled at spawn', async () => {
      await ready;
      await assert.rejects(cell.unsafeEval('1 + 1'), { code: 'USAGE' });
    });
  });
}

test('a cell with the eval hook runs JavaScript inside it (the attack tests\' door)', async () => {
  for (const isolation of ['worker', 'process'] as Isolation[]) {
    const cell = await spawnCell({ isolation, unsafeTestHooks: { eval: true } });
    try {
      assert.equal(await cell.unsafeEval('6 * 7'), 42);
      assert.equal(await cell.unsafeEval('Promise.resolve("later")'), 'later');
      await assert.rejects(cell.unsafeEval('throw new RangeError("nope")'), /RangeError: nope/);
      if (isolation === 'process') assert.equal(await cell.unsafeEval('process.pid'), await cell.unsafeEval('process.pid'));
    } finally {
      cell.kill();
    }
  }
});

test('bad spawn options are one-line USAGE errors', async () => {
  await assert.rejects(spawnCell({ isolation: 'vm' as Isolation }), { code: 'USAGE', message: 'unknown isolation "vm" (expected inline, worker or process)' });
  await assert.rejects(spawnCell({ isolation: 'worker', memoryLimitBytes: Number.NaN }), { code: 'USAGE', message: /^invalid cell memory limit NaN/ });
  await assert.rejects(spawnCell({ isolation: 'worker', killGraceMs: -1 }), { code: 'USAGE', message: /^invalid killGraceMs -1/ });
  await assert.rejects(spawnCell({ isolation: 'process', maxOpenFiles: 3 }), { code: 'USAGE', message: /^invalid maxOpenFiles 3/ });
  for (const cores of [0, -1, Number.NaN, Infinity, 2000]) {
    await assert.rejects(spawnCell({ isolation: 'process', cpuCores: cores }), { code: 'USAGE', message: new RegExp(`^invalid cpuCores ${cores} `) });
  }
});
