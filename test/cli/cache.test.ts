import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, wasmFile } from '../engine/wat.js';
import { isola } from './support.js';

const MODULE = wasmFile(`(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`);

test('run with limits stores the instrumented module under ISOLA_CACHE_DIR, and reuses it', () => {
  const dir = tempDir();
  const env = { ISOLA_CACHE_DIR: dir };
  assert.equal(isola(['run', '--fuel', '1000', '--invoke', 'add', MODULE, '1', '2'], { env }).stdout, '3\n');
  const entries = readdirSync(join(dir, 'modules'));
  assert.equal(entries.length, 1);
  const inode = statSync(join(dir, 'modules', entries[0]!)).ino;
  assert.equal(isola(['run', '--fuel', '1000', '--invoke', 'add', MODULE, '2', '2'], { env }).stdout, '4\n');
  assert.deepEqual(readdirSync(join(dir, 'modules')), entries);
  assert.equal(statSync(join(dir, 'modules', entries[0]!)).ino, inode, 'the second run read the entry instead of rewriting it');
});

test('XDG_CACHE_HOME is used when ISOLA_CACHE_DIR is not set', () => {
  const xdg = tempDir();
  const r = isola(['run', '--fuel', '1000', '--invoke', 'add', MODULE, '1', '2'], { env: { ISOLA_CACHE_DIR: '', XDG_CACHE_HOME: xdg } });
  assert.equal(r.stdout, '3\n', r.stderr);
  assert.equal(readdirSync(join(xdg, 'isola', 'modules')).length, 1);
});

test('an unusable cache directory does not break a run', () => {
  const file = join(tempDir(), 'file');
  writeFileSync(file, 'not a directory');
  const r = isola(['run', '--fuel', '1000', '--invoke', 'add', MODULE, '1', '2'], { env: { ISOLA_CACHE_DIR: file } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '3\n');
  assert.equal(r.stderr, '');
});
