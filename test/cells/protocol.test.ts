// The host↔cell frame protocol: round trips of every message, a streaming decoder that splits
// anywhere, and hostile input (garbage, lies about length, unknown types) rejected before allocation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import {
  ByteReader, ByteWriter, CELL_TO_HOST, FrameDecoder, FrameType, FrameWriter, HOST_TO_CELL, MAX_CONTROL_FRAME_BYTES, decodeError, decodeEvalResult,
  decodeInvoke, decodeLoad, decodeResult, encodeError, encodeEvalResult, encodeFrame, joinParts, DATA_INPUT, DATA_OUTPUT, DATA_STDERR,
  dataFrameSlot, type DirectSink,
} from '../../src/cells/protocol/index.js';
import { CallerOutput } from '../../src/cells/caller-output.js';
import type { InvokeRequest, InvokeResult } from '../../src/cells/types.js';

interface Got { type: number; id: number; payload: Uint8Array }

function collect(allowed: ReadonlySet<number>, max?: number): { dec: FrameDecoder; got: Got[] } {
  const got: Got[] = [];
  const dec = new FrameDecoder(allowed, (type, id, payload) => got.push({ type, id, payload: payload.slice() }), { maxFrameBytes: max });
  return { dec, got };
}

/** Everything a FrameWriter sends, as one byte string. */
function written(fill: (w: FrameWriter) => void): Uint8Array {
  const parts: Uint8Array[] = [];
  fill(new FrameWriter({ send: (p) => parts.push(...p) }));
  return joinParts(parts);
}

/** The decoded environment block as an object (the agent never does this: the bytes go to WASI as they are). */
function envOf(req: InvokeRequest): Record<string, string> | undefined {
  if (req.environ === undefined) return undefined;
  const strings = new TextDecoder().decode(req.environ.bytes).split('\0');
  assert.equal(strings.pop(), '', 'the block ends with a NUL');
  assert.equal(strings.length, req.environ.count);
  return Object.fromEntries(strings.map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]));
}

const REQ: InvokeRequest = {
  module: 'abc123', kind: 'wasi', export: 'run', args: ['prog', '-x', 'ünïcödé', ''],
  env: { A: '1', 'B C': 'x=y' }, preopens: [{ hostPath: '/h', guestPath: '/g', readOnly: true }, { hostPath: '/a', guestPath: '/b' }],
  input: new Uint8Array([1, 2, 3, 0, 255]), maxOutputBytes: 1024, maxStderrBytes: 64, limits: { fuel: 2n ** 63n + 5n, timeoutMs: 1500 },
};

test('an invoke (with its input as a data frame after it) survives encoding and decoding exactly', () => {
  const bytes = written((w) => w.invoke(7, REQ));
  const { dec, got } = collect(HOST_TO_CELL);
  dec.push(bytes);
  assert.deepEqual(got.map((g) => [g.type, g.id]), [[FrameType.INVOKE, 7], [FrameType.DATA, 7]]);
  const { req, hasInput } = decodeInvoke(got[0]!.payload);
  assert.equal(hasInput, true);
  const { slot, bytes: input } = dataFrameSlot(got[1]!.payload);
  assert.equal(slot, DATA_INPUT);
  req.input = input;
  const { environ: _, ...rest } = req;
  assert.deepEqual({ ...rest, env: envOf(req) }, { ...REQ, limits: { fuel: 2n ** 63n + 5n, timeoutMs: 1500 } });
});

test('the environment travels as one NAME=VALUE block: empty names and values, "=" in values and non-ASCII survive; NUL and "=" in a name are refused', () => {
  const env = { '': 'empty name', EMPTY: '', KEY: 'v=al=', 'ÜNÏ': 'cödé ✓', __proto__x: 'p' };
  const bytes = written((w) => w.invoke(3, { module: 'm', kind: 'wasi', env }));
  const { dec, got } = collect(HOST_TO_CELL);
  dec.push(bytes);
  const { req } = decodeInvoke(got[0]!.payload);
  assert.equal(req.env, undefined);
  assert.deepEqual(envOf(req), env);
  assert.throws(() => written((w) => w.invoke(4, { module: 'm', kind: 'wasi', env: { 'K=EY': 'v' } })),
    (e: unknown) => e instanceof IsolaError && e.code === 'USAGE' && /'='/.test(e.message));
  assert.throws(() => written((w) => w.invoke(4, { module: 'm', kind: 'wasi', env: { A: 'x\0B=y' } })),
    (e: unknown) => e instanceof IsolaError && e.code === 'USAGE' && /NUL/.test(e.message));
  assert.throws(() => written((w) => w.invoke(4, { module: 'm', kind: 'wasi', env: { 'A\0B': 'y' } })), /NUL/);
  // A caller's own encoded block is checked on the host: a bad one is the caller's error, not one that kills the cell.
  const environ = { count: 2, bytes: new TextEncoder().encode('A=1\0') };
  assert.throws(() => written((w) => w.invoke(4, { module: 'm', kind: 'wasi', environ })),
    (e: unknown) => e instanceof IsolaError && e.code === 'USAGE' && /encoded environment/.test(e.message));
});

test('an environment block that does not hold the variables it declares is a protocol error', () => {
  const bytes = written((w) => w.invoke(5, { module: 'm', kind: 'wasi', env: { A: '1', B: '2' } }));
  const { dec, got } = collect(HOST_TO_CELL);
  dec.push(bytes);
  const payload = got[0]!.payload;
  // The count sits right before the block's length: kind (1) + flags (4) + module ("m": 4 + 1).
  const lie = (n: number): Uint8Array => {
    const p = payload.slice();
    new DataView(p.buffer).setUint32(10, n, true);
    return p;
  };
  assert.deepEqual(envOf(decodeInvoke(lie(2)).req), { A: '1', B: '2' });
  for (const n of [1, 3, 0xffffffff]) {
    assert.throws(() => decodeInvoke(lie(n)), (e: unknown) => e instanceof IsolaError && e.code === 'CELL_PROTOCOL', `count ${n}`);
  }
});

test('a minimal invoke carries no optional fields', () => {
  const bytes = written((w) => w.invoke(1, { module: 'm', kind: 'invoke' }));
  const { dec, got } = collect(HOST_TO_CELL);
  dec.push(bytes);
  assert.equal(got.length, 1);
  assert.deepEqual(decodeInvoke(got[0]!.payload), { req: { module: 'm', kind: 'invoke' }, hasInput: false });
});

test('a result with values, output, stderr and exit code round-trips', () => {
  const res: InvokeResult = {
    values: ['1', '-2', 'nan'], output: new Uint8Array([9, 8, 7]), outputTruncated: true, stderr: new Uint8Array([65]),
    exitCode: -3, fuelConsumed: 12345678901234n, durationUs: 42,
  };
  const { dec, got } = collect(CELL_TO_HOST);
  dec.push(written((w) => w.result(3, res)));
  assert.deepEqual(got.map((g) => g.type), [FrameType.DATA, FrameType.DATA, FrameType.RESULT]);
  const out = new CallerOutput({ module: 'm', kind: 'wasi' }, { stdout: 3, stderr: 1 });
  for (const g of got.slice(0, 2)) {
    const { slot, bytes } = dataFrameSlot(g.payload);
    out.chunk(slot === DATA_STDERR, bytes, 3);
  }
  const { res: back, hasOutput, hasStderr } = decodeResult(got[2]!.payload);
  assert.deepEqual(out.result(back, hasOutput, hasStderr), res);
});

/** The host's side of data frames sent while a guest runs. */
function chunks(out: CallerOutput, frames: Array<[number, string]>): void {
  for (const [slot, text] of frames) out.chunk(slot === DATA_STDERR, new TextEncoder().encode(text), 9);
}
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

test('streamed output: chunks join in order per stream; a result that streamed nothing has empty output and stderr', () => {
  const out = new CallerOutput({ module: 'm', kind: 'wasi' }, { stdout: 100, stderr: 100 });
  chunks(out, [[DATA_OUTPUT, 'a'], [DATA_STDERR, 'x'], [DATA_OUTPUT, 'bc'], [DATA_STDERR, 'yz']]);
  const res = out.result({ fuelConsumed: 0n, durationUs: 0 }, true, true);
  assert.deepEqual([text(res.output), text(res.stderr)], ['abc', 'xyz']);
  const none = new CallerOutput({ module: 'm', kind: 'wasi' }, { stdout: 100, stderr: 100 }).result({ fuelConsumed: 0n, durationUs: 0 }, true, true);
  assert.deepEqual([none.output?.length, none.stderr?.length], [0, 0]);
});

test('streamed output goes to the callbacks (copies), not into the result; a failure carries what was kept', () => {
  const seen: string[] = [];
  const out = new CallerOutput({ module: 'm', kind: 'wasi', onStderr: (c) => seen.push(text(c)!) }, { stdout: 100, stderr: 100 });
  chunks(out, [[DATA_OUTPUT, 'kept'], [DATA_STDERR, 'e1'], [DATA_STDERR, 'e2']]);
  assert.deepEqual(seen, ['e1', 'e2']);
  const err = out.failed(new IsolaError('TRAP', 'wasm trap: unreachable', { kind: 'unreachable' })) as IsolaError;
  assert.equal(err.code, 'TRAP');
  assert.deepEqual([text(err.detail.stdout as Uint8Array), err.detail.stderr, err.detail.kind], ['kept', undefined, 'unreachable']);
  const res = out.result({ fuelConsumed: 0n, durationUs: 0 }, true, true);
  assert.deepEqual([text(res.output), res.stderr], ['kept', undefined]);
});

test('a cell sending more than the caps allow, or output its result does not have, is a protocol error', () => {
  const out = new CallerOutput({ module: 'm', kind: 'wasi', maxOutputBytes: 4, maxStderrBytes: 2 }, { stdout: 4, stderr: 2 });
  assert.equal(out.room, 6);
  chunks(out, [[DATA_OUTPUT, 'abc'], [DATA_STDERR, 'x']]);
  assert.equal(out.room, 2);
  assert.throws(() => chunks(out, [[DATA_OUTPUT, 'de']]), /cell-protocol-error: request 9 sent more output than its cap of maxOutputBytes/);
  assert.throws(() => chunks(out, [[DATA_STDERR, 'yz']]), /more stderr than its cap of maxStderrBytes/);
  const lying = new CallerOutput({ module: 'm', kind: 'invoke' }, { stdout: 4, stderr: 2 });
  chunks(lying, [[DATA_OUTPUT, 'a']]);
  assert.throws(() => lying.result({ fuelConsumed: 0n, durationUs: 0 }, false, false), /output for a result that has none/);
});

test('the decoder asks `admit` about each frame from its header, before buffering its payload', () => {
  const asked: Array<[number, number, number]> = [];
  const dec = new FrameDecoder(CELL_TO_HOST, () => {}, {
    admit: (type, id, length) => {
      asked.push([type, id, length]);
      if (length > 100) throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: too big');
    },
  });
  dec.push(encodeFrame(FrameType.DATA, 5, new Uint8Array([1, 7, 7])));
  const header = encodeFrame(FrameType.DATA, 6);
  new DataView(header.buffer).setUint32(0, 5 + 200 * 1024 * 1024, true); // declares 200 MiB
  assert.throws(() => dec.push(joinParts([header, new Uint8Array(1000)])), /too big/);
  assert.deepEqual(asked, [[FrameType.DATA, 5, 3], [FrameType.DATA, 6, 200 * 1024 * 1024]]);
  assert.equal(dec.pending, 0, 'nothing of it was kept');
});

test('an error or eval result too large for a control frame is cut to fit, keeping its code, the start of its message and small fields', () => {
  const frames = Array.from({ length: 20 }, (_, i) => ({ funcIndex: i, name: 'f'.repeat(100_000), offset: 1 }));
  const big = encodeError(new IsolaError('TRAP', `wasm trap: ${'m'.repeat(2_000_000)}`, { kind: 'unreachable', frames, fuelConsumed: 77n }));
  assert.ok(big.length <= MAX_CONTROL_FRAME_BYTES - 9, `${big.length} bytes`);
  const err = decodeError(big);
  assert.equal(err.code, 'TRAP');
  assert.equal(err.message.length, 4096);
  assert.deepEqual(err.detail, { detailTruncated: true, kind: 'unreachable', fuelConsumed: 77n });
  const r = decodeEvalResult(encodeEvalResult(true, 'x'.repeat(2_000_000)));
  assert.equal(r.ok, false);
  assert.ok(encodeEvalResult(true, 'x'.repeat(2_000_000)).length < 1000);
});

test('load, error and eval-result payloads round-trip; errors become IsolaError again', () => {
  const { dec, got } = collect(HOST_TO_CELL);
  dec.push(written((w) => w.load(2, { bytes: new Uint8Array([0, 97, 115, 109]), compile: { fuel: true, maxMemoryBytes: 65536 } })));
  assert.deepEqual(decodeLoad(got[0]!.payload), { bytes: new Uint8Array([0, 97, 115, 109]), compile: { fuel: true, maxMemoryBytes: 65536 } });

  const err = decodeError(encodeError(new IsolaError('TRAP', 'unreachable executed', { kind: 'unreachable', fuel: 5n, fuelConsumed: 2n ** 64n - 1n })));
  assert.ok(err instanceof IsolaError);
  assert.equal(err.code, 'TRAP');
  assert.equal(err.message, 'unreachable executed');
  assert.deepEqual(err.detail, { kind: 'unreachable', fuel: '5', fuelConsumed: 2n ** 64n - 1n });
  for (const lie of ['"-1"', '"18446744073709551616"', '5', '"1e3"']) {
    assert.throws(() => decodeError(new TextEncoder().encode(`{"code":"TRAP","message":"x","detail":{"fuelConsumed":${lie}}}`)), /malformed fuelConsumed/, lie);
  }
  assert.equal(decodeError(encodeError(new TypeError('boom'))).code, 'CELL_CRASHED');
  assert.throws(() => decodeError(new TextEncoder().encode('{"code":"ROOT","message":"x"}')), /cell-protocol-error: error frame with unknown code/);
  assert.deepEqual(decodeEvalResult(encodeEvalResult(true, { a: [1] })), { ok: true, value: { a: [1] } });
  assert.deepEqual(decodeEvalResult(encodeEvalResult(false, 'EACCES')), { ok: false, error: 'EACCES' });
});

test('the decoder reassembles frames split at every byte boundary', () => {
  const bytes = joinParts([written((w) => w.invoke(5, REQ)), encodeFrame(FrameType.CANCEL, 5), encodeFrame(FrameType.SHUTDOWN, 0)]);
  const whole = collect(HOST_TO_CELL);
  whole.dec.push(bytes);
  for (let cut = 1; cut < bytes.length; cut++) {
    const split = collect(HOST_TO_CELL);
    split.dec.push(bytes.subarray(0, cut));
    split.dec.push(bytes.subarray(cut));
    assert.deepEqual(split.got, whole.got, `cut at ${cut}`);
    assert.equal(split.dec.pending, 0);
  }
  const trickle = collect(HOST_TO_CELL);
  for (let i = 0; i < bytes.length; i++) trickle.dec.push(bytes.subarray(i, i + 1));
  assert.deepEqual(trickle.got, whole.got);
});

test('an oversize length is refused from the header alone, before any payload is buffered', () => {
  const { dec } = collect(CELL_TO_HOST, 1024 * 1024);
  const header = new Uint8Array(9);
  new DataView(header.buffer).setUint32(0, 0xffff_fff0, true);
  header[4] = FrameType.RESULT;
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => dec.push(header), (e: unknown) => e instanceof IsolaError && e.code === 'CELL_PROTOCOL'
    && /^cell-protocol-error: frame of 4294967284 bytes exceeds the maximum of 1048576$/.test(e.message));
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no allocation of the declared size');
  assert.throws(() => dec.push(new Uint8Array(1)), /used after an error/);
});

test('a length under the maximum that is never fulfilled holds only the bytes really sent', () => {
  const { dec, got } = collect(CELL_TO_HOST, 64 * 1024 * 1024);
  const header = new Uint8Array(9 + 10);
  new DataView(header.buffer).setUint32(0, 60 * 1024 * 1024, true);
  header[4] = FrameType.DATA;
  dec.push(header);
  assert.equal(dec.pending, 19);
  assert.equal(got.length, 0);
});

test('unknown types, frames for the other direction and short lengths are rejected', () => {
  for (const [type, allowed, why] of [
    [99, CELL_TO_HOST, /unexpected frame type 99$/],
    [FrameType.EVAL, CELL_TO_HOST, /unexpected frame type 11 \(eval\)/],
    [FrameType.RESULT, HOST_TO_CELL, /unexpected frame type 4 \(result\)/],
  ] as const) {
    const { dec } = collect(allowed);
    assert.throws(() => dec.push(encodeFrame(type as FrameType, 1)), why);
  }
  const short = new Uint8Array(9);
  short[0] = 4;
  short[4] = FrameType.READY;
  assert.throws(() => collect(CELL_TO_HOST).dec.push(short), /frame length 4 is shorter than its header/);
});

test('truncated, padded or lying payloads are protocol errors, never crashes', () => {
  const bytes = written((w) => w.invoke(1, { ...REQ, input: undefined }));
  const payload = bytes.subarray(9);
  for (let n = 0; n < payload.length; n++) {
    assert.throws(() => decodeInvoke(payload.subarray(0, n)), (e: unknown) => e instanceof IsolaError && e.code === 'CELL_PROTOCOL', `cut at ${n}`);
  }
  const padded = new Uint8Array(payload.length + 1);
  padded.set(payload);
  assert.throws(() => decodeInvoke(padded), /1 trailing bytes/);
  // A count of 2^32-1 arguments in a short frame: refused before an array of that size exists.
  const lying = new Uint8Array([0, 2, 0, 0, 0, 1, 0, 0, 0, 109, 255, 255, 255, 255]);
  assert.throws(() => decodeInvoke(lying), /declares 4294967295 items/);
});

test('a data frame names a known slot', () => {
  assert.deepEqual(dataFrameSlot(new Uint8Array([DATA_INPUT, 1, 2])), { slot: DATA_INPUT, bytes: new Uint8Array([1, 2]) });
  assert.throws(() => dataFrameSlot(new Uint8Array([7])), /unknown slot 7/);
  assert.throws(() => dataFrameSlot(new Uint8Array(0)), /data frame without a slot/);
});

test('fuzz: random bytes and mutated valid frames end in frames or a CELL_PROTOCOL error, nothing else', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const valid = written((w) => {
    w.result(1, { values: ['1'], output: new Uint8Array(100), fuelConsumed: 1n, durationUs: 1 });
    w.frame(FrameType.READY, 2, new TextEncoder().encode('handle'));
  });
  for (let round = 0; round < 2000; round++) {
    let bytes: Uint8Array;
    if (round % 2 === 0) {
      bytes = new Uint8Array(Math.floor(rand() * 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    } else {
      bytes = valid.slice();
      for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    }
    const out = new CallerOutput({ module: 'm', kind: 'wasi' }, { stdout: 200, stderr: 200 });
    const dec = new FrameDecoder(CELL_TO_HOST, (type, id, payload) => {
      if (type === FrameType.DATA) {
        const { slot, bytes } = dataFrameSlot(payload);
        out.chunk(slot === DATA_STDERR, bytes, id);
      } else if (type === FrameType.RESULT) {
        const { res, hasOutput, hasStderr } = decodeResult(payload);
        out.result(res, hasOutput, hasStderr);
      } else if (type === FrameType.ERROR) decodeError(payload);
      else if (type === FrameType.EVAL_RESULT) decodeEvalResult(payload);
    }, { maxFrameBytes: 1024 * 1024 });
    try {
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + Math.floor(rand() * 40);
        dec.push(bytes.subarray(at, at + n));
        at += n;
      }
    } catch (e) {
      assert.ok(e instanceof IsolaError && e.code === 'CELL_PROTOCOL' && e.message.startsWith('cell-protocol-error: '), String(e));
    }
    assert.ok(dec.pending <= bytes.length);
  }
});

test('a direct sink receives a bulk payload straight into its target, split anywhere, and frames after it still decode', () => {
  const input = new Uint8Array(5000).map((_, i) => (i * 7) & 255);
  const bytes = joinParts([written((w) => w.invoke(4, { module: 'm', kind: 'buffer', input })), encodeFrame(FrameType.SHUTDOWN, 0)]);
  let directs = 0;
  for (const cut of [30, 60, 61, 62, 1000, bytes.length - 10]) {
    const target = new Uint8Array(8000);
    const seen: string[] = [];
    const sink: DirectSink = {
      target: (type, id, length, first) => {
        seen.push(`target ${type} ${id} ${length} ${first}`);
        return type === FrameType.DATA ? target : null;
      },
      done: (type, id, first, got) => {
        seen.push(`done ${type} ${id} ${first}`);
        assert.deepEqual(got, input);
        assert.equal(got.buffer, target.buffer, 'written into the target, not a copy of it');
      },
    };
    const frames: number[] = [];
    const dec = new FrameDecoder(HOST_TO_CELL, (type) => frames.push(type), { direct: sink });
    dec.push(bytes.subarray(0, cut));
    dec.push(bytes.subarray(cut));
    assert.equal(dec.pending, 0);
    const directly = seen.includes(`done ${FrameType.DATA} 4 0`);
    if (directly) directs++;
    // Direct delivery needs the DATA header and its slot byte in the first part; otherwise the frame is decoded as usual.
    assert.deepEqual(frames, directly ? [FrameType.INVOKE, FrameType.SHUTDOWN] : [FrameType.INVOKE, FrameType.DATA, FrameType.SHUTDOWN], `cut ${cut}`);
  }
  assert.ok(directs >= 3, `direct delivery used in ${directs} of 6 splits`);
});

test('a direct sink that declines, or offers too little room, leaves the frame to the usual path', () => {
  const input = new Uint8Array(3000).fill(9);
  const bytes = written((w) => w.invoke(1, { module: 'm', kind: 'buffer', input }));
  for (const offer of [null, new Uint8Array(10)]) {
    const frames: Array<[number, number]> = [];
    const dec = new FrameDecoder(HOST_TO_CELL, (type, _id, payload) => frames.push([type, payload.length]), { direct: {
      target: () => offer,
      done: () => assert.fail('not direct'),
    } });
    dec.push(bytes.subarray(0, 100));
    dec.push(bytes.subarray(100));
    assert.deepEqual(frames.map((f) => f[0]), [FrameType.INVOKE, FrameType.DATA]);
    assert.equal(frames[1]![1], 3001);
  }
});

test('with volatile chunks the decoder keeps copies: a caller reusing its read buffer corrupts nothing', () => {
  const input = new Uint8Array(4000).map((_, i) => i & 255);
  const bytes = joinParts([written((w) => w.invoke(2, { module: 'm', kind: 'wasi', args: ['a'], input })), encodeFrame(FrameType.SHUTDOWN, 0)]);
  const got: Array<[number, Uint8Array]> = [];
  const dec = new FrameDecoder(HOST_TO_CELL, (type, _id, payload) => got.push([type, payload.slice()]), { volatileChunks: true, reuse: true });
  const shared = new Uint8Array(700); // one read buffer, overwritten by every read
  for (let at = 0; at < bytes.length; at += shared.length) {
    const n = Math.min(shared.length, bytes.length - at);
    shared.set(bytes.subarray(at, at + n));
    dec.push(shared.subarray(0, n));
    shared.fill(0xee);
  }
  assert.deepEqual(got.map((g) => g[0]), [FrameType.INVOKE, FrameType.DATA, FrameType.SHUTDOWN]);
  assert.deepEqual(dataFrameSlot(got[1]![1]).bytes, input);
});

test('frames taken from a writer share a slab but never each other\'s bytes; large ones and joined ones get their own buffer', () => {
  const w = new ByteWriter(16);
  const a = w.reset().str('first frame').take();
  const b = w.reset().str('second, longer frame').take();
  assert.equal(a.buffer, b.buffer, 'small frames are views of one slab');
  assert.ok(a.byteLength < a.buffer.byteLength);
  assert.equal(new ByteReader(a, 't').str(), 'first frame', 'the writer was reused; the first frame is intact');
  assert.equal(new ByteReader(b, 't').str(), 'second, longer frame');
  const big = w.reset().raw(new Uint8Array(40_000).fill(7)).take();
  assert.equal(big.byteOffset, 0);
  assert.equal(big.byteLength, big.buffer.byteLength, 'a large frame has a buffer of its own');
  const joined = joinParts([a]);
  assert.notEqual(joined.buffer, a.buffer, 'a slab view is copied before anyone could transfer the slab');
  assert.deepEqual(joined, a);
  for (let i = 0; i < 10_000; i++) w.reset().u32(i).take(); // fills and replaces slabs
  assert.equal(new ByteReader(a, 't').str(), 'first frame');
});
