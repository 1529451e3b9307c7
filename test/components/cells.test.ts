// Components in every cell kind and in pools: the host lifts (a cell has no transpiler and never takes glue
// from anyone else), the cell compiles the core modules with metering and runs commands and typed calls with
// the same limits, grants and error codes as core modules; a hostile component ends its own invocation only.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { CellPool, spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import type { Isolation } from '../../src/cells/types.js';
import { AgentCore } from '../../src/cells/agent/core.js';
import { ByteWriter, decodeLoad, encodeLoad } from '../../src/cells/protocol/index.js';
import { componentBytes } from './helpers.js';
import { tempDir } from '../wasi/helpers.js';
import { grantToJail } from '../helpers/jail-user.js';

const WALLS: Isolation[] = ['inline', 'worker', 'process'];
const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b ?? new Uint8Array());

for (const isolation of WALLS) {
  describe(`${isolation} cells run components`, () => {
    const tmp = tempDir(`comp-cell-${isolation}`);
    mkdirSync(join(tmp.path, 'box'));
    writeFileSync(join(tmp.path, 'box', 'in.txt'), 'granted');
    writeFileSync(join(tmp.path, 'secret.txt'), 'SECRET');
    grantToJail(join(tmp.path, 'box'), false, tmp.path); // a process cell's host user must reach it, as an operator grants
    const preopens = [{ hostPath: join(tmp.path, 'box'), guestPath: '/box' }];
    let cell: SpawnedCell;
    after(async () => {
      await cell?.close();
      tmp.remove();
    });

    test('a command with its grants, a typed call, and limits', async () => {
      cell = await spawnCell({ isolation, preopens });
      const cat = await cell.load({ bytes: componentBytes('cmd-cat') });
      const r = await cell.invoke({ module: cat, kind: 'wasi', args: ['cat', '/box/in.txt', '/box/../secret.txt'], preopens });
      assert.equal(r.exitCode, 0);
      assert.match(text(r.output), /^read \/box\/in\.txt: OK granted$/m);
      assert.match(text(r.output), /^read \/box\/\.\.\/secret\.txt: E[A-Z]+$/m);
      assert.ok(r.fuelConsumed > 0n, 'fuel is counted');

      const env = await cell.load({ bytes: componentBytes('cmd-env') });
      const e = await cell.invoke({ module: env, kind: 'wasi', args: ['env'], env: { ONLY: 'this' } });
      assert.match(text(e.output), /^env: ONLY=this$/m);
      assert.doesNotMatch(text(e.output), /PATH=|HOME=/);

      const types = await cell.load({ bytes: componentBytes('types') });
      assert.deepEqual((await cell.invoke({ module: types, kind: 'invoke', export: 'echo-point', args: ['{x: 1, y: -2, label: "p"}'] })).values, ['{x: 1, y: -2, label: "p"}']);
      assert.deepEqual((await cell.invoke({ module: types, kind: 'invoke', export: 'divide(9, 0)' })).values, ['err("division by zero")']);
      await assert.rejects(cell.invoke({ module: types, kind: 'invoke', export: 'echo-u8', args: ['300'] }), (err: unknown) => isCode('BAD_ARGS')(err) && /argument 1 \(v: u8\)/.test((err as Error).message));
      await assert.rejects(cell.invoke({ module: types, kind: 'buffer', export: 'x', input: new Uint8Array(1) }), (err: unknown) => isCode('USAGE')(err) && /no buffer ABI/.test((err as Error).message));
    });

    test('hostile components: each ends with its own error and the cell carries on', async () => {
      const hostile = await cell.load({ bytes: componentBytes('hostile'), compile: { maxMemoryBytes: 1 << 20 } });
      await assert.rejects(cell.invoke({ module: hostile, kind: 'invoke', export: 'spin()', limits: { timeoutMs: 200 } }), isCode('TIMEOUT'));
      await assert.rejects(cell.invoke({ module: hostile, kind: 'invoke', export: 'spin()', limits: { fuel: 100_000 } }), (err: unknown) => isCode('FUEL')(err) && (err as IsolaError).detail.fuelConsumed !== undefined);
      assert.deepEqual((await cell.invoke({ module: hostile, kind: 'invoke', export: 'grow()' })).values, ['16']);
      await assert.rejects(cell.invoke({ module: hostile, kind: 'invoke', export: 'recurse(100000000)' }), isCode('TRAP'));
      await assert.rejects(cell.invoke({ module: hostile, kind: 'invoke', export: 'boom()' }), (err: unknown) => isCode('TRAP')(err) && /unreachable/.test((err as Error).message));
      const hello = await cell.load({ bytes: componentBytes('cmd-hello') });
      assert.equal(text((await cell.invoke({ module: hello, kind: 'wasi', args: ['hello'] })).output), 'hello, world\n');
      assert.equal(cell.alive, true);
    });
  });
}

test('a pool of process cells runs a component concurrently', async () => {
  const pool = new CellPool({ spawn: { isolation: 'process' }, module: { bytes: componentBytes('types') }, maxCells: 2, minWarm: 2 });
  try {
    await pool.warm();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.invoke({ kind: 'invoke', export: 'add', args: [String(i), '100'] })));
    assert.deepEqual(results.map((r) => r.values), Array.from({ length: 12 }, (_, i) => [String(i + 100)]));
  } finally {
    await pool.close();
  }
});

test('a cell never lifts, nor takes glue it was not given by its host', () => {
  const core = new AgentCore({ preopens: [] });
  assert.throws(() => core.load(componentBytes('calc')), (e: unknown) => isCode('COMPONENT')(e) && /loaded with its lift/.test((e as Error).message));
});

test('the load frame carries a lift both ways, and a malformed one is a protocol error', () => {
  const bytes = componentBytes('calc');
  const component = { glue: 'export function instantiate() {}', cores: [['a.wasm', new Uint8Array([1, 2, 3])], ['b.wasm', new Uint8Array([4])]] as Array<[string, Uint8Array]>, exports: [['add', 'function']] as Array<[string, 'function' | 'instance']> };
  const w = new ByteWriter();
  encodeLoad(w, { bytes, compile: { fuel: true }, component });
  const m = decodeLoad(w.take());
  assert.deepEqual(Buffer.from(m.bytes), Buffer.from(bytes));
  assert.equal(m.component?.glue, component.glue);
  assert.deepEqual(m.component?.cores.map(([n, b]) => [n, [...b]]), [['a.wasm', [1, 2, 3]], ['b.wasm', [4]]]);
  assert.deepEqual(m.component?.exports, [['add', 'function']]);
  const bad = new ByteWriter();
  bad.str('{}');
  bad.str(JSON.stringify({ component: { glue: 'x', exports: [], cores: [['a', 1e9]] } }));
  bad.raw(new Uint8Array(4));
  assert.throws(() => decodeLoad(bad.take()), isCode('CELL_PROTOCOL'));
});

// A guest can make lifting its results cost the host far more memory than its own (1 Mi strings, each the same
// 1 MiB of guest memory: 1 TiB on the host). Inside a process cell that exhausts the cell, never the host: the
// cell dies, the invocation fails with CELL_CRASHED, and a new cell serves on. (A worker cell's heap limit
// stops it on Node 20, but on Node 26 the strings grow outside that limit and the whole host thrashes: worker
// cells do not contain it there, see docs/architecture.md.)
for (const isolation of ['process'] as const) {
  test(`${isolation} cell: a result that amplifies into host memory kills the cell, not the host`, async () => {
    const cell = await spawnCell({ isolation });
    try {
      const m = await cell.load({ bytes: componentBytes('amplify') });
      assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'strings(2, 3)' })).values, ['["aaa", "aaa"]']);
      await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'strings(1048576, 1048576)' }), isCode('CELL_CRASHED'));
      assert.equal(cell.alive, false);
    } finally {
      cell.kill();
    }
    const next = await spawnCell({ isolation });
    try {
      const m = await next.load({ bytes: componentBytes('amplify') });
      assert.deepEqual((await next.invoke({ module: m, kind: 'invoke', export: 'strings(1, 1)' })).values, ['["a"]']);
    } finally {
      await next.close();
    }
  });
}
