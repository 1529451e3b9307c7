// Descriptor exhaustion: a guest that opens files until refused gets an errno, the host keeps
// working, and every host descriptor is released when the guest ends (no state leaks into the next run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNNERS, assertResults, results, tempDir, viaLibrary } from './helpers.js';

const hostFds = (): number => readdirSync('/proc/self/fd').length;

for (const [via, run] of RUNNERS) {
  test(`${via}: fds.wasm — opening until refused ends in EMFILE/ENFILE, closing frees, reopening works`, () => {
    const tmp = tempDir('fds');
    try {
      writeFileSync(join(tmp.path, 'inside.txt'), 'inside\n');
      const r = run({ guest: 'fds', dirs: [{ host: tmp.path, guest: '/' }] });
      assert.equal(r.code, 0, r.stderr);
      const got = results(r.stdout);
      const [how, count] = (got.get('opened') ?? '').split(' ');
      assert.ok(['all', 'EMFILE', 'ENFILE'].includes(how!), `opened: ${got.get('opened')}`);
      assert.equal(got.get('closed'), `OK ${count}`);
      assert.equal(got.get('reopen'), 'OK');
    } finally {
      tmp.remove();
    }
  });
}

test('library: descriptors a guest leaves open are closed when it exits', { skip: process.platform !== 'linux' }, () => {
  const tmp = tempDir('fds-keep');
  try {
    writeFileSync(join(tmp.path, 'inside.txt'), 'inside\n');
    const before = hostFds();
    const r = viaLibrary({ guest: 'fds', args: ['keep'], dirs: [{ host: tmp.path, guest: '/' }] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^opened: /m);
    assert.equal(hostFds(), before, 'host descriptors leaked past the end of the guest');
  } finally {
    tmp.remove();
  }
});

// churn.wasm: 500 rounds of path calls failing half-way (missing, not a directory, loops, escapes,
// a 200-level deep tree). wasmtime 49 gives exactly these counts. A descriptor leaked per failed
// resolution would show in the host's descriptor count (library) or as EMFILE at the end.
const CHURN = { rounds: '500', 'count OK': '500', 'count ELOOP': '1000', 'count ENOENT': '2000',
  'count ENOTDIR': '500', 'count EPERM': '1500', 'final-open': 'OK' };

for (const [via, run] of RUNNERS) {
  test(`${via}: churn.wasm — failed resolutions leak no host descriptors`, () => {
    const tmp = tempDir('churn');
    try {
      writeFileSync(join(tmp.path, 'inside.txt'), 'inside\n');
      const before = hostFds();
      const r = run({ guest: 'churn', dirs: [{ host: tmp.path, guest: '/' }] });
      assertResults(r, CHURN, `${via}: `);
      if (via === 'library') assert.equal(hostFds(), before, 'host descriptors leaked');
    } finally {
      tmp.remove();
    }
  });
}
