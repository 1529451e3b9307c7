// garbage.wasm: out-of-range enums, unknown flag bits and extreme offsets on valid descriptors.
// Well-typed calls must give wasmtime 49's errno; for out-of-range enums wasmtime traps the guest,
// where the issue wants an errno (EINVAL) and a guest that runs on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNNERS, assertResults, tempDir } from './helpers.js';
import type { Expect } from './helpers.js';

const WASMTIME: Record<string, Expect> = {
  open: 'OK',
  'seek-negative': 'EINVAL',
  'seek-int64-min-cur': 'EINVAL',
  'seek-stdout': 'ESPIPE',
  'seek-dir': 'EBADF',
  'pread-huge-offset': 'EINVAL',
  'pwrite-huge-offset': 'EINVAL',
  'pread-dir': 'EBADF',
  'read-dir': 'EBADF',
  'write-dir': 'EBADF',
  'set-size-huge': 'EINVAL',
  'set-times-both-now-and-set': 'EINVAL',
  'readdir-zero-buf': 'OK',
  'readdir-huge-cookie': 'OK',
  'readdir-huge-cookie-used': '0',
  'poll-zero': 'EINVAL',
  'proc-raise': 'ENOTSUP',
  'sched-yield': 'OK',
  'random-zero': 'OK',
};

const OUT_OF_RANGE: Record<string, Expect> = {
  'seek-bad-whence': 'EINVAL',
  'clock-bad-id': 'EINVAL',
  'clock-res-bad-id': 'EINVAL',
  'advise-bad': 'EINVAL',
  'set-times-bad-flags': 'EINVAL',
  'fdflags-bad-bits': 'EINVAL',
  'open-bad-oflags': 'EINVAL',
  'open-bad-lookupflags': 'EINVAL',
  'poll-bad-tag': 'EINVAL',
  'poll-bad-clock': ['OK n=1 event-error=EINVAL', 'EINVAL n=0 event-error=OK'],
};

for (const [via, run] of RUNNERS) {
  test(`${via}: garbage.wasm — bad enums, flags and offsets are errnos (wasmtime's where it answers)`, () => {
    const tmp = tempDir('garbage');
    try {
      writeFileSync(join(tmp.path, 'file.txt'), 'hello\n');
      const r = run({ guest: 'garbage', dirs: [{ host: tmp.path, guest: '/' }] });
      assertResults(r, { ...WASMTIME, ...OUT_OF_RANGE }, `${via}: `);
      assert.match(r.stdout, /^done$/m);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      tmp.remove();
    }
  });
}
