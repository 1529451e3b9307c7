// Signed artifacts (`isola compile`) in every cell. A process cell has no signing key: the host checks the
// artifact's signature and hands the cell the instrumented bytes with the instrumentation they carry, which
// it compiles as they are. Only the host vouches for instrumentation: a forged artifact is refused on the
// host, and a caller cannot pass bytes off as instrumented.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { Engine } from '../../src/engine/engine.js';
import { CellPool, spawnCell, type LoadRequest, type SpawnedCell } from '../../src/cells/index.js';
import { ByteWriter, decodeLoad, encodeLoad } from '../../src/cells/protocol/index.js';
import { tempDir } from '../engine/wat.js';
import { assertFails, isola } from '../cli/support.js';
import { COUNTER } from './guests.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;

let dir: string;
let artifact: Uint8Array;
before(() => {
  dir = tempDir('isola-artifacts-');
  artifact = new Engine({ cacheDir: dir }).compile(COUNTER, { fuel: true }).toArtifact(); // signed with dir's key
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a process cell given a signed artifact', () => {
  let cell: SpawnedCell;
  before(async () => {
    cell = await spawnCell({ isolation: 'process', cacheDir: dir, killGraceMs: 300 });
  });
  after(() => cell.kill());

  test('loads it and runs it, metered: fuel and timeouts hold', async () => {
    const m = await cell.load({ bytes: artifact });
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
    const r = await cell.invoke({ module: m, kind: 'invoke', export: 'add', args: ['2', '3'], limits: { fuel: 1000 } });
    assert.deepEqual(r.values, ['5']);
    assert.ok(r.fuelConsumed > 0n, 'fuel was counted');
    await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { fuel: 100_000 } }), isCode('FUEL'));
    await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 100 } }), isCode('TIMEOUT'));
  });

  test('refuses, on the host, an artifact whose bytes were changed or that another key signed', async () => {
    const edited = artifact.slice();
    edited[edited.length - 40]! ^= 1; // inside the instrumented module
    await assert.rejects(cell.load({ bytes: edited }), (e) => isCode('ARTIFACT')(e) && /signature does not match/.test((e as Error).message));
    const other = tempDir('isola-other-key-');
    try {
      const foreign = new Engine({ cacheDir: other }).compile(COUNTER, { fuel: true }).toArtifact();
      await assert.rejects(cell.load({ bytes: foreign }), isCode('ARTIFACT'));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    assert.equal(cell.alive, true);
  });

  test('a caller cannot pass plain bytes off as instrumented: the cell meters them itself', async () => {
    const claim = { bytes: COUNTER, verified: { cacheKey: 'x', options: { fuel: true }, fuel: null, instrumented: COUNTER } };
    const m = await cell.load(claim as LoadRequest);
    await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 100 } }), isCode('TIMEOUT'));
  });
});

test('the load frame carries verified parts intact; malformed ones are a protocol error', () => {
  const verified = { cacheKey: 'k1', options: { fuel: true, maxMemoryBytes: 65536 }, fuel: { importModule: 'isola', importName: 'fuel_check', insertedFuncIndex: 3, globalExport: '__isola_fuel' } as const, instrumented: new Uint8Array([9, 8, 7]) };
  const frame = (m: Parameters<typeof encodeLoad>[1]): Uint8Array => {
    const w = new ByteWriter(64);
    encodeLoad(w, m);
    return w.take();
  };
  const back = decodeLoad(frame({ bytes: new Uint8Array([1, 2]), compile: { fuel: true }, verified }));
  assert.deepEqual({ ...back, bytes: [...back.bytes], verified: { ...back.verified!, instrumented: [...back.verified!.instrumented] } },
    { bytes: [1, 2], compile: { fuel: true }, verified: { ...verified, instrumented: [9, 8, 7] } });
  assert.equal(decodeLoad(frame({ bytes: new Uint8Array([1]), compile: {} })).verified, undefined);
  const lie = (meta: string): Uint8Array => new ByteWriter(64).str('{}').str(meta).raw(new Uint8Array(4)).take();
  for (const meta of ['[]', '{"cacheKey":"k","options":{},"fuel":null,"instrumentedLength":5}', '{"cacheKey":1,"options":{},"fuel":null,"instrumentedLength":1}',
    '{"cacheKey":"k","options":{},"fuel":{"importModule":"env"},"instrumentedLength":1}', '{"cacheKey":"k","options":{"maxMemoryBytes":-1},"fuel":null,"instrumentedLength":1}']) {
    assert.throws(() => decodeLoad(lie(meta)), isCode('CELL_PROTOCOL'), meta);
  }
});

test('a pool of process cells serves a signed artifact', async () => {
  const pool = new CellPool({ spawn: { isolation: 'process', cacheDir: dir }, module: { bytes: artifact }, maxCells: 2 });
  try {
    await pool.warm();
    const results = await Promise.all(Array.from({ length: 4 }, () => pool.invoke({ kind: 'invoke', export: 'bump' })));
    assert.deepEqual(results.map((r) => r.values), [['1'], ['1'], ['1'], ['1']]);
  } finally {
    await pool.close();
  }
});

test('isola run --isolation process runs what isola compile made', () => {
  const out = join(dir, 'hello.art');
  const compiled = isola(['compile', '--fuel', 'test/fixtures/wasi/hello.wasm', '-o', out]);
  assert.equal(compiled.status, 0, compiled.stderr);
  const plain = isola(['run', out]);
  for (const wall of ['worker', 'process']) {
    const r = isola(['run', '--isolation', wall, '--timeout', '5s', out]);
    assert.equal(r.stderr.replace(/^isola: process cells need a jail.*\n/m, ''), '', wall);
    assert.equal(r.status, 0, wall);
    assert.equal(r.stdout, plain.stdout, wall);
  }
  const forged = join(dir, 'forged.art');
  writeFileSync(forged, Buffer.concat([Buffer.from('ISOLAART'), Buffer.alloc(80)]));
  assertFails(isola(['run', '--isolation', 'process', forged]), /^error: artifact rejected: its signature does not match/);
});
