// A read-only preopen: reading works, every kind of write is refused and the host tree is unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESCAPE, RUNNERS, assertResults, tempDir } from './helpers.js';
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

const TWO_DIRS_EXPECTED: Record<string, Expect> = {
  'ro-open-subdir': 'OK',
  'ro-subdir-create': DENIED,
  'ro-subdir-mkdir': DENIED,
  'ro-subdir-write-parent': ESCAPE,
  // A hard link of a read-only file into a writable tree would make the file writable.
  'link-ro-into-rw': DENIED,
  'write-through-link': 'ENOENT',
  'rename-ro-into-rw': DENIED,
  'rw-create': 'OK',
  'rename-rw-into-ro': DENIED,
  'symlink-rw-to-ro': 'OK',
  'write-through-symlink': ESCAPE,
  'renumber-rw-onto-ro': 'OK',
  'create-after-renumber': 'OK',
};

for (const [via, run] of RUNNERS) {
  test(`${via}: two-dirs.wasm — read-only holds below the preopen and across a writable preopen`, () => {
    const tmp = tempDir('two-dirs');
    try {
      const ro = join(tmp.path, 'ro');
      const rw = join(tmp.path, 'rw');
      mkdirSync(join(ro, 'dir'), { recursive: true });
      mkdirSync(rw);
      writeFileSync(join(ro, 'existing.txt'), 'original\n');
      const r = run({ guest: 'two-dirs', dirs: [{ host: ro, guest: '/ro', readOnly: true }, { host: rw, guest: '/rw' }] });
      assertResults(r, TWO_DIRS_EXPECTED, `${via}: `);
      assert.match(r.stdout, /^done$/m);
      assert.equal(readFileSync(join(ro, 'existing.txt'), 'utf8'), 'original\n', 'the read-only file was modified');
      assert.deepEqual(readdirSync(ro).sort(), ['dir', 'existing.txt']);
      assert.deepEqual(readdirSync(join(ro, 'dir')), []);
    } finally {
      tmp.remove();
    }
  });
}
