// Parked guests (issue 14, "many requests in flight"): where Node has JSPI (24 and later), a WASI command that
// sleeps in poll_oneoff parks, its stack suspended, and its cell runs the next invocation meanwhile; one cell holds
// hundreds of sleeping requests. Their output, timeouts, cancels and the cell's death stay per invocation; a
// cell's PARKED and RESUMED frames are checked like any frame. Without JSPI these tests are skipped (a sleeping
// guest blocks its cell there, as before); the frame checks run everywhere.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { JSPI } from '../../src/engine/jspi.js';
import { DEFAULT_MAX_PARKED, spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import { FrameType } from '../../src/cells/protocol/index.js';
import { fromRoot } from '../helpers/root.js';
import { wat } from '../engine/wat.js';
import { COUNTER, bytes, processAlive, sleep, text } from './guests.js';

const needsJspi = JSPI ? false : 'needs JSPI (WebAssembly.Suspending and promising: Node 24 or later); without it a sleeping guest blocks its cell';

/**
 * A WASI command that reads 4 bytes of stdin and writes "before " and them, sleeps `ms` in poll_oneoff, then writes
 * " after " and the rest of its stdin, read only now (so what it reads after parking must be its own input).
 */
function sleeper(ms: number): Uint8Array {
  return wat(`(module
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 2)
    (data (i32.const 512) "before ")
    (data (i32.const 528) " after ")
    (func $out (param $ptr i32) (param $len i32)
      (i32.store (i32.const 0) (local.get $ptr)) (i32.store (i32.const 4) (local.get $len))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
    (func $in (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 32) (local.get $ptr)) (i32.store (i32.const 36) (local.get $len))
      (drop (call $read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 16)))
      (i32.load (i32.const 16)))
    (func (export "_start") (local $n i32)
      (local.set $n (call $in (i32.const 1024) (i32.const 4)))
      (call $out (i32.const 512) (i32.const 7))
      (call $out (i32.const 1024) (local.get $n))
      ;; one clock subscription at 64: monotonic (id 1 at 80), relative, ${ms} ms (at 88); its event at 128
      (i32.store (i32.const 80) (i32.const 1))
      (i64.store (i32.const 88) (i64.const ${ms * 1_000_000}))
      (if (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)) (then unreachable))
      (call $out (i32.const 528) (i32.const 7))
      (block $done (loop $more
        (local.set $n (call $in (i32.const 2048) (i32.const 60000)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $out (i32.const 2048) (local.get $n))
        (br $more)))))`);
}

const isCode = (code: string, message?: RegExp) => (e: unknown): boolean =>
  e instanceof IsolaError && e.code === code && (message === undefined || message.test(e.message));

/** Input for invocation `i`: a 4-byte tag, then `extra` bytes of its own. */
function inputFor(i: number, extra = 16): { input: Uint8Array; expect: string } {
  const tag = `#${String(i).padStart(3, '0')}`.slice(-4);
  const rest = `:${i}:`.padEnd(extra, String.fromCharCode(97 + (i % 26)));
  return { input: bytes(tag + rest), expect: `before ${tag} after ${rest}` };
}

describe('one process cell holds many parked sleepers', { skip: needsJspi }, () => {
  let cell: SpawnedCell;
  let m: string;
  before(async () => {
    cell = await spawnCell({ isolation: 'process' });
    m = await cell.load({ bytes: sleeper(1000) });
  });
  after(() => cell.kill());

  test('500 invocations each sleeping 1 s finish together, each with its own output (its input read after the sleep)', async () => {
    assert.equal(cell.maxParked, DEFAULT_MAX_PARKED);
    const started = performance.now();
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, cell.parked)), 10);
    const runs = Array.from({ length: 500 }, (_, i) => {
      const { input, expect } = inputFor(i, 1000 + i * 37); // up to ~19 KiB each, so frames span the agent's reads
      return cell.invoke({ module: m, kind: 'wasi', input, limits: { timeoutMs: 30_000 } }).then((r) => {
        assert.equal(text(r.output), expect, `invocation ${i}`);
        assert.equal(r.exitCode, 0);
      });
    });
    try {
      await Promise.all(runs);
    } finally {
      clearInterval(watch);
    }
    const ms = performance.now() - started;
    assert.ok(ms < 10_000, `500 sleepers of 1 s took ${ms.toFixed(0)} ms`);
    assert.ok(peak > 400, `most were parked at once (peak ${peak})`);
    assert.equal(cell.parked, 0);
    assert.equal(cell.pending, 0);
  });

  test('output written before the sleep arrives while it is parked, and all of it goes to its own invocation', async () => {
    const chunks = new Map<number, Array<{ at: number; text: string }>>();
    const t0 = performance.now();
    const runs = Array.from({ length: 20 }, (_, i) => {
      const { input, expect } = inputFor(i);
      const mine: Array<{ at: number; text: string }> = [];
      chunks.set(i, mine);
      return cell.invoke({
        module: m, kind: 'wasi', input, onStdout: (c) => mine.push({ at: performance.now() - t0, text: text(c) }),
      }).then((r) => {
        assert.equal(r.output, undefined, 'a callback took stdout');
        assert.equal(mine.map((c) => c.text).join(''), expect, `invocation ${i}`);
      });
    });
    await Promise.all(runs);
    for (const [i, mine] of chunks) {
      assert.ok(mine[0]!.text.startsWith('before'), `invocation ${i} said "before" first`);
      assert.ok(mine[0]!.at < 800, `invocation ${i}'s output before its 1 s sleep left the cell as it parked (${mine[0]!.at.toFixed(0)} ms)`);
    }
  });

  test('a parked invocation past its timeout fails TIMEOUT at about its timeout; the others sleep on', async () => {
    const long = await cell.load({ bytes: sleeper(5000) });
    const others = Array.from({ length: 10 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input }));
    const t0 = performance.now();
    await assert.rejects(cell.invoke({ module: long, kind: 'wasi', input: bytes('tout'), limits: { timeoutMs: 300 } }), (e: unknown) => {
      assert.ok(isCode('TIMEOUT', /timed out after 300ms/)(e), String(e));
      assert.equal(text((e as IsolaError).detail.stdout as Uint8Array), 'before tout', 'what it wrote before parking rides on the error');
      return true;
    });
    const ms = performance.now() - t0;
    assert.ok(ms >= 280 && ms < 1000, `timed out after ${ms.toFixed(0)} ms`);
    for (const [i, r] of (await Promise.all(others)).entries()) assert.equal(text(r.output), inputFor(i).expect);
    assert.equal(cell.alive, true);
  });

  test('cancelling a parked invocation ends it at once; its neighbours and the cell carry on', async () => {
    const long = await cell.load({ bytes: sleeper(60_000) });
    const neighbours = Array.from({ length: 5 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input }));
    const ac = new AbortController();
    const parked = cell.invoke({ module: long, kind: 'wasi', input: bytes('cncl') }, ac.signal);
    while (cell.parked < 6) await sleep(5);
    const t0 = performance.now();
    ac.abort();
    await assert.rejects(parked, (e: unknown) => isCode('CANCELLED')(e) && text((e as IsolaError).detail.stdout as Uint8Array) === 'before cncl');
    assert.ok(performance.now() - t0 < 200, 'answered at once');
    for (const [i, r] of (await Promise.all(neighbours)).entries()) assert.equal(text(r.output), inputFor(i).expect);
    while (cell.pending > 0) await sleep(5); // the agent ended it too (its answer, CANCELLED, was dropped)
    assert.equal(cell.parked, 0);
    assert.equal(cell.alive, true);
  });

  test('a spinning invocation among parked ones times out alone, at its own timeout', async () => {
    const spinner = await cell.load({ bytes: COUNTER });
    const sleepers = Array.from({ length: 30 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input, limits: { timeoutMs: 5000 } }));
    while (cell.parked < 30) await sleep(5);
    const t0 = performance.now();
    await assert.rejects(cell.invoke({ module: spinner, kind: 'invoke', export: 'spin', limits: { timeoutMs: 300 } }), isCode('TIMEOUT'));
    const ms = performance.now() - t0;
    assert.ok(ms < 900, `the spinner timed out after ${ms.toFixed(0)} ms`);
    for (const [i, r] of (await Promise.all(sleepers)).entries()) assert.equal(text(r.output), inputFor(i).expect);
    assert.equal(cell.alive, true);
  });
});

describe('cells killed, cells bounded', { skip: needsJspi }, () => {
  test('a cell that dies with invocations parked fails them all (CELL_CRASHED: they started); one waiting behind a spinner is notStarted', async () => {
    const cell = await spawnCell({ isolation: 'process' });
    const m = await cell.load({ bytes: sleeper(60_000) });
    const spin = await cell.load({ bytes: COUNTER });
    const parked = Array.from({ length: 50 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input }).then(() => 'ran', (e: unknown) => e));
    while (cell.parked < 50) await sleep(5);
    const spinner = cell.invoke({ module: spin, kind: 'invoke', export: 'spin' }).then(() => 'ran', (e: unknown) => e);
    await sleep(50);
    const behind = cell.invoke({ module: spin, kind: 'invoke', export: 'bump' }).then(() => 'ran', (e: unknown) => e);
    await sleep(20);
    process.kill(cell.agentPid!, 'SIGKILL');
    for (const e of [...await Promise.all(parked), await spinner]) {
      assert.ok(isCode('CELL_CRASHED')(e), String(e));
      assert.notEqual((e as IsolaError).detail.notStarted, true, 'it started: it must never run again');
    }
    const b = await behind;
    assert.ok(isCode('CELL_CRASHED')(b) && (b as IsolaError).detail.notStarted === true, String(b));
    assert.equal(cell.alive, false);
    assert.equal(cell.pending, 0);
    assert.equal(cell.parked, 0);
    await assert.rejects(cell.invoke({ module: m, kind: 'wasi' }), isCode('CELL_CLOSED'));
    const next = await spawnCell({ isolation: 'process' });
    try {
      assert.deepEqual((await next.invoke({ module: await next.load({ bytes: COUNTER }), kind: 'invoke', export: 'bump' })).values, ['1']);
    } finally {
      next.kill();
    }
  });

  test('a parked invocation past its timeout in an agent that answers nothing more: the watchdog kills the cell, its output rides on the failure', async () => {
    const cell = await spawnCell({ isolation: 'process', killGraceMs: 200, unsafeTestHooks: { eval: true } });
    const m = await cell.load({ bytes: sleeper(60_000) });
    const parked = cell.invoke({ module: m, kind: 'wasi', input: bytes('hung'), limits: { timeoutMs: 300 } });
    while (cell.parked < 1) await sleep(5);
    const t0 = performance.now();
    const hang = cell.unsafeEval('Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)'); // the agent's thread, forever
    await assert.rejects(parked, (e: unknown) => isCode('CELL_CRASHED')(e) && text((e as IsolaError).detail.stdout as Uint8Array) === 'before hung');
    assert.ok(performance.now() - t0 < 1500);
    await assert.rejects(hang, isCode('CELL_CRASHED'));
  });

  test('a parked invocation whose timeout passes while another guest holds the thread is answered late, not killed', async () => {
    const cell = await spawnCell({ isolation: 'process', killGraceMs: 200 });
    try {
      const m = await cell.load({ bytes: sleeper(60_000) });
      const spin = await cell.load({ bytes: COUNTER });
      const t0 = performance.now();
      const parked = cell.invoke({ module: m, kind: 'wasi', input: bytes('late'), limits: { timeoutMs: 200 } });
      while (cell.parked < 1) await sleep(1);
      await assert.rejects(cell.invoke({ module: spin, kind: 'invoke', export: 'spin', limits: { timeoutMs: 1200 } }), isCode('TIMEOUT'));
      await assert.rejects(parked, isCode('TIMEOUT'));
      assert.ok(performance.now() - t0 >= 1150, 'its timeout fired once the spinner let go of the thread');
      assert.equal(cell.alive, true);
    } finally {
      cell.kill();
    }
  });

  test('the agent parks at most maxParked; past it a guest sleeps on the thread, as without JSPI', async () => {
    const cell = await spawnCell({ isolation: 'process', maxParked: 3 });
    try {
      const m = await cell.load({ bytes: sleeper(300) });
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, cell.parked)), 2);
      const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input })));
      clearInterval(watch);
      for (const [i, r] of runs.entries()) assert.equal(text(r.output), inputFor(i).expect);
      assert.equal(cell.maxParked, 3);
      assert.ok(peak <= 3 && peak >= 2, `peak ${peak}`);
    } finally {
      cell.kill();
    }
  });

  test('maxParked 0: sleeps block the cell, as on Node 20', async () => {
    const cell = await spawnCell({ isolation: 'process', maxParked: 0 });
    try {
      const m = await cell.load({ bytes: sleeper(150) });
      const t0 = performance.now();
      await Promise.all([0, 1, 2].map((i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input })));
      assert.ok(performance.now() - t0 >= 440, 'one after the other');
    } finally {
      cell.kill();
    }
  });

  test('a worker cell parks too, and a cancel of a parked invocation there stops only it', async () => {
    const cell = await spawnCell({ isolation: 'worker' });
    try {
      const m = await cell.load({ bytes: sleeper(1000) });
      const long = await cell.load({ bytes: sleeper(60_000) });
      const ac = new AbortController();
      const cancelled = cell.invoke({ module: long, kind: 'wasi', input: bytes('wcan') }, ac.signal);
      const t0 = performance.now();
      const runs = Array.from({ length: 200 }, (_, i) => cell.invoke({ module: m, kind: 'wasi', input: inputFor(i).input }));
      while (cell.parked < 100) await sleep(5);
      ac.abort();
      await assert.rejects(cancelled, isCode('CANCELLED'));
      for (const [i, r] of (await Promise.all(runs)).entries()) assert.equal(text(r.output), inputFor(i).expect);
      assert.ok(performance.now() - t0 < 5000);
      while (cell.pending > 0) await sleep(5);
      assert.equal(cell.alive, true);
    } finally {
      cell.kill();
    }
  });

  test('maxParked is 0 inline, and a bad one is refused', async () => {
    const inline = await spawnCell({ isolation: 'inline' });
    assert.equal(inline.maxParked, 0);
    assert.equal(inline.parked, 0);
    await assert.rejects(spawnCell({ isolation: 'process', maxParked: -1 }), isCode('USAGE'));
    await assert.rejects(spawnCell({ isolation: 'worker', maxParked: 1e6 }), isCode('USAGE', /more than a process can hold/));
  });
});

describe('PARKED and RESUMED frames are checked like any other', () => {
  /** Agent-side JavaScript: after 200 ms (the host sends what it will meanwhile), write one empty frame. */
  const forge = (type: number, requestId: number): string => `(() => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    const head = Buffer.alloc(9); head.writeUInt32LE(5, 0); head[4] = ${type}; head.writeUInt32LE(${requestId}, 5);
    require('fs').writeSync(3, head);
    return 'sent';
  })()`;
  const isProtocol = (message: RegExp) => isCode('CELL_PROTOCOL', message);

  test('PARKED for a request the host never sent kills the cell', async () => {
    const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
    await assert.rejects(cell.unsafeEval(forge(FrameType.PARKED, 999)), isProtocol(/parked frame for request 999, which is not running/));
    assert.equal(cell.alive, false);
  });

  test('PARKED beyond the cell\'s maximum (0: a cell that was told never to park) kills it; the invocation fails alone', async () => {
    const cell = await spawnCell({ isolation: 'process', maxParked: 0, unsafeTestHooks: { eval: true } });
    const m = await cell.load({ bytes: COUNTER }); // request 1; the eval is 2, the invocation 3
    const attack = cell.unsafeEval(forge(FrameType.PARKED, 3));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'bump' });
    await assert.rejects(inv, isProtocol(/request 3 parked beyond the cell's maximum of 0/));
    await assert.rejects(attack, isProtocol(/maximum/));
  });

  test('RESUMED for a request that is not parked kills the cell', async () => {
    const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
    const m = await cell.load({ bytes: COUNTER });
    const attack = cell.unsafeEval(forge(FrameType.RESUMED, 3));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'bump' });
    await assert.rejects(inv, isProtocol(/resumed frame for request 3, which is not parked/));
    await assert.rejects(attack, isProtocol(/not parked/));
  });

  test('PARKED twice, or a result for a parked invocation without RESUMED, kills the cell; its parked invocation fails with it', { skip: needsJspi }, async () => {
    for (const type of [FrameType.PARKED, FrameType.RESULT]) {
      const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
      const m = await cell.load({ bytes: sleeper(60_000) }); // request 1; the sleeper is 2, the eval 3
      const pid = cell.pid!;
      const parked = cell.invoke({ module: m, kind: 'wasi', input: bytes('twic') });
      while (cell.parked < 1) await sleep(5);
      const attack = cell.unsafeEval(forge(type, 2));
      await assert.rejects(parked, isProtocol(type === FrameType.PARKED ? /parked frame for request 2, which is not running/ : /request 2, which is not running/));
      await assert.rejects(attack, isCode('CELL_PROTOCOL'));
      for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(20);
      assert.equal(processAlive(pid), false);
    }
  });
});

test('an instance the address space cannot hold is OVERLOADED for that invocation, never a crash', () => {
  // In a child process: it holds Wasm memories until V8 cannot reserve another (~13,000-16,000), then instantiates.
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const script = `
    import { Engine } from ${JSON.stringify(engine)};
    const bytes = new Uint8Array(${JSON.stringify([...wat('(module (memory 1) (func (export "_start")))')])});
    const out = {};
    for (const reuseMemory of [false, true]) {
      const compiled = new Engine({ cacheDir: null }).compile(bytes, { reuseMemory });
      const held = [];
      try { for (;;) held.push(new WebAssembly.Memory({ initial: 1 })); } catch {}
      try { compiled.instantiate(); out[reuseMemory] = 'instantiated'; } catch (e) { out[reuseMemory] = e.code + ': ' + e.message; }
      held.length = 0;
    }
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fromRoot('.'), encoding: 'utf8' })) as Record<string, string>;
  for (const v of Object.values(out)) assert.match(v, /^OVERLOADED: cannot allocate a linear memory for a new instance/);
});
