// The CLI's grant flags, with wasmtime's spellings: a bare --dir HOST appears under its own name
// (absolute or relative), and a bad grant is a one-line usage error, never a run without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers/root.js';
import { fixture, spawnIsola, tempDir } from './helpers.js';

test('cli: a bare --dir HOST is visible under the same absolute name', () => {
  const tmp = tempDir('bare');
  try {
    writeFileSync(join(tmp.path, 'a.txt'), 'x\n');
    const r = spawnIsola(['run', '--dir', tmp.path, fixture('tree'), tmp.path]);
    assert.deepEqual(r, { code: 0, stdout: 'a.txt (2 bytes)\n', stderr: '' });
  } finally {
    tmp.remove();
  }
});

test('cli: a bare relative --dir is visible under that relative name', () => {
  const tmp = tempDir('bare-rel');
  try {
    mkdirSync(join(tmp.path, 'data'));
    writeFileSync(join(tmp.path, 'data', 'b.txt'), 'yy\n');
    const r = spawnSync(process.execPath, [CLI, 'run', '--dir', 'data', fixture('tree'), 'data'], {
      cwd: tmp.path, encoding: 'utf8', input: '',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'b.txt (3 bytes)\n');
  } finally {
    tmp.remove();
  }
});

test('cli: a missing directory, a file given as --dir and an unset --env NAME are usage errors', () => {
  const tmp = tempDir('bad-grants');
  try {
    const file = join(tmp.path, 'file.txt');
    writeFileSync(file, '');
    const missing = join(tmp.path, 'missing');
    for (const flags of [['--dir', missing], ['--dir', `${file}::/f`], ['--dir-ro', missing],
      ['--env', 'ISOLA_SURELY_UNSET_VARIABLE']]) {
      const r = spawnIsola(['run', ...flags, fixture('hello')], { hostEnv: { PATH: process.env.PATH } });
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.equal(r.stdout, '', 'the guest must not run without its grant');
      assert.match(r.stderr, /^error: /m, flags.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    tmp.remove();
  }
});
