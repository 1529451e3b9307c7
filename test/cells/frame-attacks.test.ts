// A cell whose first wall has fallen (the eval door runs JavaScript in its agent) writes raw frames to make
// the host buffer memory: a huge data frame for a request the host never sent, data beyond an in-flight
// request's output caps, an oversized control frame. Each is refused from its header: the cell is killed
// with CELL_PROTOCOL, only its own invocation fails, and the host's memory does not grow.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import { CAP_FD, FrameType } from '../../src/cells/protocol/index.js';
import { COUNTER, processAlive, sleep, witnessCell } from './guests.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStores } from '../../src/capabilities/keyvalue/host/stores.js';
import { KvBroker, kvOnlyHost } from '../../src/capabilities/keyvalue/host/broker.js';
import { KvChannelOp, KvErrorKind, KvOp, KvWriter } from '../../src/capabilities/keyvalue/protocol.js';
import { Stops } from '../../src/capabilities/wasi-http/host/replies.js';

const MIB = 1024 * 1024;

/**
 * Agent-side JavaScript: after `waitMs` (so the host can send an invocation meanwhile), write a frame header
 * declaring a payload of `declared` bytes (a data frame's first is its slot), then up to `send` bytes of it,
 * 1 MiB at a time (the socket is non-blocking: EAGAIN is waited out). The host should kill the cell long before.
 */
function flood(type: number, requestId: number, slot: number | null, declared: number, send: number, waitMs: number, fd = 3): string {
  return `(() => {
    const fs = require('fs');
    const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const writeAll = (b) => { for (let off = 0; off < b.length;) { try { off += fs.writeSync(${fd}, b, off); } catch (e) { if (e.code !== 'EAGAIN') throw e; pause(1); } } };
    pause(${waitMs});
    const head = Buffer.alloc(9);
    head.writeUInt32LE(${declared} + 5, 0); head[4] = ${type}; head.writeUInt32LE(${requestId}, 5);
    writeAll(head);
    const chunk = Buffer.alloc(${MIB}, 120);
    ${slot === null ? '' : `chunk[0] = ${slot};`}
    for (let left = ${send}; left > 0; left -= chunk.length) {
      writeAll(left < chunk.length ? chunk.subarray(0, left) : chunk);
      chunk[0] = 120;
    }
    return 'the host took it all';
  })()`;
}

/** The most the host's RSS grew (sampled every 2 ms) while `work` ran. */
async function rssGrowth(work: Promise<unknown>): Promise<number> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  try {
    await work.catch(() => {});
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - base;
}

const isProtocol = (message: RegExp) => (e: unknown) => e instanceof IsolaError && e.code === 'CELL_PROTOCOL' && message.test(e.message);

describe('frame attacks on the host', () => {
  const witness = witnessCell();
  const witnessAnswers = (): Promise<void> => witness.answers();

  /** A fresh process cell with the eval door: the module loaded as request 1, so the next two requests are 2 and 3. */
  async function victim(): Promise<{ cell: SpawnedCell; m: string }> {
    const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
    return { cell, m: await cell.load({ bytes: COUNTER }) };
  }

  test('a 200 MiB data frame for a request the host never sent: refused from its header, the running invocation fails alone', async () => {
    const { cell, m } = await victim();
    const pid = cell.pid!;
    // Request 2 is the eval, 3 the invocation the host sends while the eval pauses; the frame names 999.
    const attack = cell.unsafeEval(flood(FrameType.DATA, 999, 1, 200 * MIB, 200 * MIB, 200));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
    const grew = await rssGrowth(Promise.allSettled([attack, inv]));
    assert.ok(grew < 16 * MIB, `the host's RSS grew ${(grew / MIB).toFixed(0)} MiB`);
    await assert.rejects(attack, isProtocol(/^cell-protocol-error: data frame for request 999, which is not running$/));
    await assert.rejects(inv, isProtocol(/request 999, which is not running/));
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(20);
    assert.equal(processAlive(pid), false, 'the lying cell is killed');
    await witnessAnswers();
  });

  test("a data frame beyond the in-flight request's output caps: refused from its header", async () => {
    const { cell, m } = await victim();
    const attack = cell.unsafeEval(flood(FrameType.DATA, 3, 1, 200 * MIB, 200 * MIB, 200));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop', maxOutputBytes: 1000, maxStderrBytes: 100 });
    const grew = await rssGrowth(Promise.allSettled([attack, inv]));
    assert.ok(grew < 16 * MIB, `the host's RSS grew ${(grew / MIB).toFixed(0)} MiB`);
    await assert.rejects(inv, isProtocol(/^cell-protocol-error: data frame of 209715199 bytes for request 3 exceeds what its output caps leave \(1100\)$/));
    await assert.rejects(attack, isProtocol(/output caps/));
    await witnessAnswers();
  });

  test('data within the caps but for a stream over its own cap is refused once it is in', async () => {
    const { cell, m } = await victim();
    const attack = cell.unsafeEval(flood(FrameType.DATA, 3, 2, 1 * MIB, 1 * MIB, 200));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop', maxOutputBytes: 2 * MIB, maxStderrBytes: 100 });
    await assert.rejects(inv, isProtocol(/request 3 sent more stderr than its cap of maxStderrBytes/));
    await assert.rejects(attack, isProtocol(/maxStderrBytes/));
    await witnessAnswers();
  });

  test('a control frame larger than any the agent sends (a 200 MiB error) is refused from its header', async () => {
    const { cell, m } = await victim();
    const attack = cell.unsafeEval(flood(FrameType.ERROR, 3, null, 200 * MIB, 200 * MIB, 200));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
    const grew = await rssGrowth(Promise.allSettled([attack, inv]));
    assert.ok(grew < 16 * MIB, `the host's RSS grew ${(grew / MIB).toFixed(0)} MiB`);
    await assert.rejects(inv, isProtocol(/^cell-protocol-error: error frame of 209715209 bytes exceeds the maximum of 1048576$/));
    await assert.rejects(attack, isProtocol(/error frame/));
    await witnessAnswers();
  });
});

describe('attacks through the capability channel (fd 5): the same rules, refused from the header', () => {
  const witness = witnessCell();
  async function victim(): Promise<{ cell: SpawnedCell; m: string }> {
    const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
    return { cell, m: await cell.load({ bytes: COUNTER }) };
  }

  test('a 200 MiB capability send for the running invocation: refused before it is buffered', async () => {
    const { cell, m } = await victim();
    const attack = cell.unsafeEval(flood(FrameType.CAP_SEND, 3, 2, 200 * MIB, 200 * MIB, 200, CAP_FD));
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
    const grew = await rssGrowth(Promise.allSettled([attack, inv]));
    assert.ok(grew < 16 * MIB, `the host's RSS grew ${(grew / MIB).toFixed(0)} MiB`);
    await assert.rejects(inv, isProtocol(/cap_send frame of 209715209 bytes exceeds the maximum of 1048586/));
    await witness.answers();
  });

  test('a result that counts capability sends for an invocation given no capabilities kills the cell', async () => {
    const { cell, m } = await victim();
    // A RESULT for request 3: flags CAP_SENDS (32), fuel u64, duration f64, then the count (u32).
    const attack = cell.unsafeEval(`(() => {
      const fs = require('fs');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      const p = Buffer.alloc(1 + 8 + 8 + 4); p[0] = 32; p.writeUInt32LE(7, 17);
      const head = Buffer.alloc(9); head.writeUInt32LE(p.length + 5, 0); head[4] = ${FrameType.RESULT}; head.writeUInt32LE(3, 5);
      fs.writeSync(3, Buffer.concat([head, p]));
      return 'sent';
    })()`);
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
    await assert.rejects(inv, isProtocol(/request 3 counts capability sends, but was given no capabilities/));
    await attack.catch(() => {});
    await witness.answers();
  });

  test('capability frames for a request not in the cell, or for one given no capabilities, kill the cell', async () => {
    for (const [id, type, message] of [
      [999, FrameType.CAP_SEND, /capability frame for request 999, which is not in the cell/],
      [3, FrameType.CAP_CALL, /capability frame for request 3, which was given no capabilities/],
      [3, FrameType.CAP_REPLY, /frame type 9|cap_reply|unexpected/i],
    ] as const) {
      const { cell, m } = await victim();
      const attack = cell.unsafeEval(flood(type, id, 1, 8, 8, 200, CAP_FD));
      const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
      await assert.rejects(inv, isProtocol(message));
      await assert.rejects(attack);
      await witness.answers();
    }
  });
});

describe('attacks on the key-value broker from a cell whose first wall has fallen', () => {
  const witness = witnessCell();
  /** A process cell with the eval door, and a broker for request 3 granted only the store "s". */
  async function victim(): Promise<{ cell: SpawnedCell; m: string; host: ReturnType<typeof kvOnlyHost>; done(): Promise<void> }> {
    const dir = mkdtempSync(join(tmpdir(), 'isola-kv-attack-'));
    const stores = new KvStores({ dataDir: dir });
    const stops = new Stops(new AbortController().signal, 10_000);
    const broker = new KvBroker(stores, new Set(['s']), 1000, stops, () => {});
    const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
    return {
      cell, m: await cell.load({ bytes: COUNTER }), host: kvOnlyHost(broker),
      async done() {
        stops.end();
        await stores.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** Agent-side JavaScript: after a pause, one CAP_CALL for request 3 with `data` (hex), then the reply's payload as hex. */
  const rawCall = (op: number, dataHex: string) => `(() => {
    const fs = require('fs');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    const data = Buffer.from('${dataHex}', 'hex');
    const head = Buffer.alloc(10); head.writeUInt32LE(data.length + 6, 0); head[4] = ${FrameType.CAP_CALL}; head.writeUInt32LE(3, 5); head[9] = ${op};
    fs.writeSync(${CAP_FD}, Buffer.concat([head, data]));
    const h = Buffer.alloc(9); let got = 0; while (got < 9) got += fs.readSync(${CAP_FD}, h, got, 9 - got, null);
    const body = Buffer.alloc(h.readUInt32LE(0) - 5); got = 0; while (got < body.length) got += fs.readSync(${CAP_FD}, body, got, body.length - got, null);
    return body.toString('hex');
  })()`;

  test('raw frames reach no store the function was not granted: the broker checks the grant on every call, not the guest', async () => {
    const { cell, m, host, done } = await victim();
    try {
      const get = Buffer.from(new KvWriter().u8(KvOp.GET).bytes('secret').bytes('k').finish()).toString('hex');
      const attack = cell.unsafeEval(rawCall(KvChannelOp.CALL, get));
      const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop', host });
      const reply = Buffer.from(String(await attack), 'hex');
      assert.equal(reply[0], 2, 'FAILED');
      assert.equal(reply[1], KvErrorKind.ACCESS_DENIED);
      assert.match(reply.subarray(2).toString(), /not granted the store "secret"/);
      await inv;
    } finally {
      await cell.close();
      await done();
    }
    await witness.answers();
  });

  test('a key-value call that is not one kills the cell; only its own invocation fails', async () => {
    for (const [op, data, message] of [
      [KvChannelOp.CALL, '02', /malformed key-value call/],
      [KvChannelOp.CALL, Buffer.from(new KvWriter().u8(99).bytes('s').finish()).toString('hex'), /unknown key-value op 99/],
      [KvChannelOp.CALL, Buffer.from(new KvWriter().u8(KvOp.GET).bytes('s').finish()).toString('hex'), /malformed key-value get call/],
      [KvChannelOp.CALL, Buffer.from(new KvWriter().u8(KvOp.GET_MANY).bytes('s').u32(0xffffffff).finish()).toString('hex'), /malformed key-value get-many call/],
      [KvChannelOp.NEXT, '', /NEXT with nothing to continue/],
      [77, '', /unknown capability call 77/],
    ] as const) {
      const { cell, m, host, done } = await victim();
      try {
        const attack = cell.unsafeEval(rawCall(op, data));
        const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop', host });
        await assert.rejects(inv, (e: unknown) => e instanceof IsolaError && message.test(e.message), String(message));
        await assert.rejects(attack);
      } finally {
        await cell.close();
        await done();
      }
      await witness.answers();
    }
  });
});
