// The functions' log sink on its own: chunks that arrive while a request runs become lines (split where the
// newlines are, a partial last line flushed at the end, overlong lines cut, invalid UTF-8 replaced), one line
// per failure, and bounds everywhere: bytes per request, ring, waiting lines, files (a guest that floods
// stderr fills neither memory nor disk). Read back from the ring, from disk after a restart, and followed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FunctionLogs, type LogLimits } from '../../src/orchestrator/function-logs.js';
import { cutMarker, droppedMarker } from '../../src/orchestrator/log-lines.js';
import type { LogRecord } from '../../src/orchestrator/types.js';
import { tempDir } from '../engine/wat.js';

const bytes = (s: string | number[]): Uint8Array => (typeof s === 'string' ? Buffer.from(s) : Uint8Array.from(s));
const texts = (records: LogRecord[]): string[] => records.map((r) => r.text);

function withLogs(limits: Partial<LogLimits>, body: (logs: FunctionLogs, dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = tempDir('isola-logs-');
    const logs = new FunctionLogs(join(dir, 'logs'), limits);
    try {
      await body(logs, join(dir, 'logs'));
    } finally {
      logs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('chunks become lines: split at newlines, CRLF trimmed, a partial line kept until the request ends', withLogs({}, (logs) => {
  logs.guestOutput('r1', 'fn', 'v1', 'stderr', bytes('hel'));
  assert.deepEqual(logs.read('fn'), [], 'nothing until a line is complete');
  logs.guestOutput('r1', 'fn', 'v1', 'stderr', bytes('lo\r\nwor'));
  logs.guestOutput('r2', 'fn', 'v1', 'stderr', bytes('other request\n'));
  logs.guestOutput('r1', 'fn', 'v1', 'stderr', bytes('ld\n\nlast, no newline'));
  assert.deepEqual(texts(logs.read('fn')), ['hello', 'other request', 'world', '']);
  logs.requestEnded('r1', 'fn', 'v1');
  const records = logs.read('fn');
  assert.deepEqual(texts(records), ['hello', 'other request', 'world', '', 'last, no newline']);
  const last = records[4]!;
  assert.deepEqual({ ...last, time: '' }, { time: '', requestId: 'r1', function: 'fn', version: 'v1', stream: 'stderr', text: 'last, no newline' });
  assert.ok(Math.abs(Date.parse(last.time) - Date.now()) < 5000, last.time);
}));

test('a failed request gets one isola line after its output', withLogs({}, (logs) => {
  logs.guestOutput('r1', 'fn', 'v1', 'stderr', bytes('about to trap'));
  logs.requestEnded('r1', 'fn', 'v1', 'request failed (500): wasm trap: unreachable');
  assert.deepEqual(logs.read('fn').map((r) => [r.stream, r.text]), [['stderr', 'about to trap'], ['isola', 'request failed (500): wasm trap: unreachable']]);
}));

test('invalid UTF-8 is replaced; a multi-byte character split across chunks survives', withLogs({}, (logs) => {
  const e = [...Buffer.from('é')];
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes([0x61, 0xff, 0x62, e[0]!]));
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes([e[1]!, 0x0a]));
  assert.deepEqual(texts(logs.read('fn')), ['a\ufffdbé']);
}));

test('an overlong line is cut at a character boundary with a marker; the rest of it is skipped', withLogs({ maxLineBytes: 10 }, (logs) => {
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes('123456789é and more'));
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes(' still the same line\nnext\n'));
  assert.deepEqual(texts(logs.read('fn')), [`123456789${cutMarker(10)}`, 'next']);
}));

test('a flood: output past maxBytesPerRequest is dropped with one marker', withLogs({ maxBytesPerRequest: 1000 }, (logs) => {
  logs.guestOutput('r', 'flood', 'v', 'stderr', bytes('x\n'.repeat(10_000)));
  logs.requestEnded('r', 'flood', 'v');
  const records = texts(logs.read('flood'));
  assert.equal(records.length, 501);
  assert.equal(records[500], droppedMarker(1000));
}));

test('a flood of requests: the ring keeps its last records, the disk two files of at most maxFileBytes', async () => {
  const memory = new FunctionLogs(null, { ringRecords: 50, ringBytes: 1024 * 1024 });
  for (let i = 0; i < 1000; i++) memory.guestOutput(`r${i}`, 'flood', 'v', 'stderr', bytes(`line ${i}\n`));
  assert.deepEqual(texts(memory.read('flood')), Array.from({ length: 50 }, (_, i) => `line ${950 + i}`));
  memory.close();
  const small = new FunctionLogs(null, { ringRecords: 1000, ringBytes: 4096 });
  for (let i = 0; i < 1000; i++) small.guestOutput(`r${i}`, 'flood', 'v', 'stderr', bytes(`${'z'.repeat(100)}\n`));
  assert.ok(small.read('flood').length <= 4096 / 100, 'the ring also holds to its byte budget');
  small.close();

  await withLogs({ maxFileBytes: 8 * 1024, maxPendingBytes: 4 * 1024, flushMs: 10 }, async (logs, dir) => {
    for (let i = 0; i < 2000; i++) {
      logs.guestOutput(`r${i}`, 'flood', 'v', 'stderr', bytes(`${'y'.repeat(100)}\n`.repeat(9)));
      logs.requestEnded(`r${i}`, 'flood', 'v');
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 15)); // let some flushes happen
    }
    await new Promise((r) => setTimeout(r, 50));
    const file = join(dir, 'flood.log');
    assert.ok(statSync(file).size <= 8 * 1024, `${statSync(file).size} bytes`);
    assert.ok(statSync(`${file}.1`).size <= 8 * 1024, `${statSync(`${file}.1`).size} bytes`);
    const onDisk = readFileSync(file, 'utf8') + readFileSync(`${file}.1`, 'utf8');
    assert.match(onDisk, /log lines dropped: written faster than the disk took them/, 'what did not fit says so');
  })();
});

test('requests with output never ended are bounded: the oldest is flushed out', withLogs({ maxOpenRequests: 3 }, (logs) => {
  for (let i = 0; i < 5; i++) logs.guestOutput(`r${i}`, 'fn', 'v', 'stderr', bytes(`partial ${i}`));
  assert.deepEqual(texts(logs.read('fn')), ['partial 0', 'partial 1']);
}));

test('read: since and tail, from the ring when it covers the time, else from disk (also after a restart)', async () => {
  const dir = tempDir('isola-logs-');
  try {
    const first = new FunctionLogs(join(dir, 'logs'), { ringRecords: 3 });
    for (let i = 0; i < 6; i++) {
      first.guestOutput(`r${i}`, 'fn', 'v1', 'stderr', bytes(`line ${i}\n`));
      first.requestEnded(`r${i}`, 'fn', 'v1');
    }
    assert.deepEqual(texts(first.read('fn')), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5'], 'older than the ring: from disk + waiting lines');
    assert.deepEqual(texts(first.read('fn', { tail: 2 })), ['line 4', 'line 5']);
    assert.deepEqual(texts(first.read('fn', { sinceMs: Date.now() + 60_000 })), []);
    first.close();
    const lines = readFileSync(join(dir, 'logs', 'fn.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
    assert.deepEqual(lines.map((l) => l.text), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5'], 'JSON lines on disk');
    assert.equal(statSync(join(dir, 'logs', 'fn.log')).mode & 0o777, 0o600);

    const again = new FunctionLogs(join(dir, 'logs'));
    try {
      assert.deepEqual(texts(again.read('fn')), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5'], 'after a restart');
      const old = Date.parse(lines[0]!.time);
      assert.equal(again.read('fn', { sinceMs: old }).length, 6);
      again.guestOutput('r9', 'fn', 'v2', 'stderr', bytes('new\n'));
      assert.deepEqual(texts(again.read('fn', { tail: 2 })), ['line 5', 'new']);
      // A torn line at the end of a file (a full disk) is skipped, not fatal.
      writeFileSync(join(dir, 'logs', 'fn.log'), readFileSync(join(dir, 'logs', 'fn.log'), 'utf8') + '{"time":"20');
      assert.equal(again.read('fn').length, 7);
    } finally {
      again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('follow: every new record, in order; remove ends the followers and deletes the files', withLogs({ flushMs: 10 }, async (logs, dir) => {
  const seen: string[] = [];
  let ended = 0;
  logs.follow('fn', (r) => seen.push(r.text), () => ended++);
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes('one\ntw'));
  logs.guestOutput('r2', 'other', 'v', 'stderr', bytes('not mine\n'));
  logs.requestEnded('r', 'fn', 'v', 'request failed (504): timeout');
  assert.deepEqual(seen, ['one', 'tw', 'request failed (504): timeout']);
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(existsSync(join(dir, 'fn.log')));
  logs.remove('fn');
  assert.equal(ended, 1);
  assert.ok(!existsSync(join(dir, 'fn.log')));
  assert.deepEqual(logs.read('fn'), []);
  assert.ok(existsSync(join(dir, 'other.log')), 'other functions keep theirs');
}));

test('a log directory that cannot be written: lines stay in memory and the log says why, once', withLogs({ flushMs: 10 }, async (logs, dir) => {
  writeFileSync(dir, 'a file where the folder should be');
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes('kept\n'));
  await new Promise((r) => setTimeout(r, 40));
  logs.guestOutput('r', 'fn', 'v', 'stderr', bytes('kept too\n'));
  await new Promise((r) => setTimeout(r, 40));
  const records = logs.read('fn', { sinceMs: 0 });
  assert.deepEqual(records.filter((r) => r.stream === 'stderr').map((r) => r.text).sort(), ['kept', 'kept too']);
  assert.equal(records.filter((r) => /cannot write .*fn\.log: \w+; these lines are kept in memory only/.test(r.text)).length, 1);
}));
