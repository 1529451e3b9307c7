// OutputForward hands each write on as it happens, capped like OutputCapture; any sink's flush() is called
// before the guest blocks in poll_oneoff (so a sink that holds output back sends it before a long sleep).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/engine/index.js';
import { OutputForward, runWasiCommand, type OutputSink } from '../../src/capabilities/wasi-p1/index.js';
import { printer } from '../cells/guests.js';

const text = (u8: Uint8Array, off: number, len: number): string => new TextDecoder().decode(u8.subarray(off, off + len));

test('OutputForward passes on each write up to its cap, drops the rest and flags it; reopen starts over', () => {
  const got: string[] = [];
  const f = new OutputForward(5, (u8, off, len) => got.push(text(u8, off, len)));
  const bytes = new TextEncoder().encode('abcdefg');
  f.write(bytes, 0, 3);
  assert.equal(f.truncated, false);
  f.write(bytes, 3, 4);
  f.write(bytes, 0, 1);
  assert.deepEqual(got, ['abc', 'de']);
  assert.equal(f.truncated, true);
  f.reopen(2);
  assert.equal(f.truncated, false);
  f.write(bytes, 0, 1);
  assert.deepEqual(got, ['abc', 'de', 'a']);
  assert.throws(() => new OutputForward(-1, () => {}), RangeError);
});

test("a guest's stdout and stderr sinks are flushed before it sleeps in poll_oneoff", () => {
  const events: string[] = [];
  const sink = (name: string): OutputSink => ({
    filetype: 0,
    write: (u8, off, len) => events.push(`${name} ${text(u8, off, len)}`),
    flush: () => events.push(`${name} flush`),
  });
  const compiled = new Engine({ cacheDir: null }).compile(printer([[1, 'out'], [2, 'err']], 'sleep', 5));
  assert.equal(runWasiCommand(compiled, { stdout: sink('1'), stderr: sink('2') }), 0);
  assert.deepEqual(events, ['1 out', '2 err', '1 flush', '2 flush']);
});
