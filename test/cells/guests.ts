// Guests and helpers shared by the cell tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import { procStatFields } from '../../src/cells/proc-stat.js';
import { wat } from '../engine/wat.js';
import { fromRoot } from '../helpers/root.js';

/** `bump` increments a global and returns it: 1 on every call of a fresh instance. */
export const COUNTER = wat(`(module
  (global $n (mut i32) (i32.const 0))
  (func (export "bump") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "noop"))
  (func (export "boom") unreachable)
  (func (export "spin") (loop $l (br $l))))`);

/** The buffer ABI, identity: returns its input (a copy guest for throughput). */
export const COPY = wat(`(module
  (memory (export "memory") 40)
  (func (export "get_buffer_ptr") (result i32) (i32.const 0))
  (func (export "get_buffer_size") (result i32) (i32.const 2555904))
  (func (export "process_data") (param i32) (result i32) (local.get 0)))`);

export const fixture = (path: string): Uint8Array => readFileSync(fromRoot(path));
export const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** True while a process exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system, clock ticks) of a process, from /proc. */
export function cpuTicks(pid: number): number {
  const fields = procStatFields(`/proc/${pid}/stat`);
  if (fields === null) throw new Error(`cannot read /proc/${pid}/stat`);
  return Number(fields[11]) + Number(fields[12]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A WASI command that writes each [fd, text] in turn (one fd_write each), then spins forever, sleeps in
 * poll_oneoff (a minute unless `sleepMs`), traps, or returns.
 */
export function printer(writes: Array<[1 | 2, string]>, then: 'spin' | 'sleep' | 'trap' | 'return', sleepMs = 60_000): Uint8Array {
  let at = 1024;
  const data: string[] = [];
  const calls: string[] = [];
  for (const [fd, s] of writes) {
    const n = new TextEncoder().encode(s).length;
    data.push(`(data (i32.const ${at}) "${s.replace(/\n/g, '\\n')}")`);
    calls.push(`(i32.store (i32.const 0) (i32.const ${at})) (i32.store (i32.const 4) (i32.const ${n}))
      (drop (call $fd_write (i32.const ${fd}) (i32.const 0) (i32.const 1) (i32.const 8)))`);
    at += n;
  }
  const end = {
    spin: '(loop $l (br $l))',
    // One clock subscription at 64 (monotonic, relative); its event goes to 128, the count to 160.
    sleep: `(i32.store (i32.const 80) (i32.const 1)) (i64.store (i32.const 88) (i64.const ${sleepMs * 1_000_000}))
      (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))`,
    trap: 'unreachable',
    return: '',
  }[then];
  return wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    ${data.join('\n')}
    (func (export "_start") ${calls.join('\n')} ${end}))`);
}

/**
 * A process cell beside a suite's victims (call inside its describe): `answers()` checks that it never noticed
 * what happened to them.
 */
export function witnessCell(): { answers(): Promise<void> } {
  let cell: SpawnedCell;
  let module: string;
  before(async () => {
    cell = await spawnCell({ isolation: 'process' });
    module = await cell.load({ bytes: COUNTER });
  });
  after(() => cell.kill());
  return {
    async answers() {
      assert.deepEqual((await cell.invoke({ module, kind: 'invoke', export: 'add', args: ['2', '2'] })).values, ['4']);
    },
  };
}
