// fd_readdir cookies survive directory changes: readdir.wasm lists f00..f49 a few entries per
// call, deleting an entry it has seen and creating a new one between calls. Every untouched
// entry must come exactly once. (wasmtime 49's index cookies skip 5 of the 50 here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNNERS, tempDir } from './helpers.js';

const ORIGINAL = Array.from({ length: 50 }, (_, i) => `f${String(i).padStart(2, '0')}`);

for (const [via, run] of RUNNERS) {
  test(`${via}: readdir.wasm — cookies survive deletions and creations between calls`, () => {
    const tmp = tempDir('readdir');
    try {
      for (const name of ORIGINAL) writeFileSync(join(tmp.path, name), '');
      const r = run({ guest: 'readdir', dirs: [{ host: tmp.path, guest: '/' }] });
      assert.equal(r.code, 0, r.stderr);
      const names = r.stdout.split('\n').filter((l) => l.startsWith('entry: ')).map((l) => l.slice(7));
      const originals = names.filter((n) => n.startsWith('f')).sort();
      assert.deepEqual(originals, ORIGINAL, 'every original entry exactly once');
      assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(' ')}`);
      assert.match(r.stdout, /^calls: \d+$/m);
    } finally {
      tmp.remove();
    }
  });
}
