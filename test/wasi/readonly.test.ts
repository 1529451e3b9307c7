// A read-only preopen: reading works, every kind of write is refused and the host tree is unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNNERS, assertResults, tempDir } from './helpers.js';
import type { Expect } from './helpers.js';

/** wasmtime answers EPERM for a write through a read-only directory; rights-based runtimes ENOTCAPABLE. */
const DENIED = ['EPERM', 'ENOTCAPABLE'] as const;
const EXPECTED: Record<string, Expect> = {
  'read-existing': 'OK original\\n',
  // wasmtime 49: EBADF and EPERM; a rights-based check gives ENOTCAPABLE.
  'write-readonly-fd': ['EBADF', 'ENOTCAPABLE'],
  'set-size-readonly-fd': ['EPERM', 'EBADF', 'ENOTCAPABLE'],
  ...Object.fromEntries(['open-write', 'open-trunc', 'open-append', 'create', 'mkdir', 'rmdir', 'unlink',
    'rename', 'symlink', 'link', 'set-times'].map((label) => [label, DENIED])),
};

for (const [via, run] of RUNNERS) {
  test(`${via}: readonly.wasm — writes to a read-only preopen fail, reads work`, () => {
    const tmp = tempDir('readonly');
    try {
      writeFileSync(join(tmp.path, 'existing.txt'), 'original\n');
      mkdirSync(join(tmp.path, 'dir'));
      const r = run({ guest: 'readonly', dirs: [{ host: tmp.path, guest: '/ro', readOnly: true }] });
      assertResults(r, EXPECTED, `${via}: `);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(readdirSync(tmp.path).sort(), ['dir', 'existing.txt']);
      assert.equal(readFileSync(join(tmp.path, 'existing.txt'), 'utf8'), 'original\n');
    } finally {
      tmp.remove();
    }
  });
}
