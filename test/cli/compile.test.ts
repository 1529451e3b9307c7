import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, wasmFile } from '../engine/wat.js';
import { assertFails, isola } from './support.js';

const MODULE = wasmFile(`(module
  (memory (export "memory") 1)
  (func (export "spin") (loop $l (br $l)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`);

test('compile writes an artifact that run loads, with its limits', () => {
  const out = join(tempDir(), 'm.isolart');
  const c = isola(['compile', '--fuel', '--max-memory', '128KiB', MODULE, '-o', out]);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(c.stdout + c.stderr, '');
  assert.equal(isola(['run', '--invoke', 'add', out, '2', '3']).stdout, '5\n');
  assert.equal(isola(['run', '--invoke', 'grow', out, '2']).stdout, '-1\n', 'the memory cap is in the artifact');
  assertFails(isola(['run', '--fuel', '1000', '--invoke', 'spin', out]), 'fuel exhausted after 1000 units', { status: 1 });
  assertFails(isola(['run', '--timeout', '200ms', '--invoke', 'spin', out]), 'timed out after 200ms', { status: 1 });
});

test('a forged or edited artifact is refused with a clear error', () => {
  const out = join(tempDir(), 'm.isolart');
  assert.equal(isola(['compile', '--fuel', MODULE, '-o', out]).status, 0);
  // Signed by another user's key (another cache directory): refused.
  const other = isola(['run', '--invoke', 'add', out, '1', '1'], { env: { ISOLA_CACHE_DIR: tempDir() } });
  assertFails(other, /^error: artifact rejected: its signature does not match this user's key/, { status: 1 });
  // Edited: refused.
  const bytes = readFileSync(out);
  bytes[bytes.length - 100] ^= 0x01;
  const edited = join(tempDir(), 'edited.isolart');
  writeFileSync(edited, bytes);
  assertFails(isola(['run', '--invoke', 'add', edited, '1', '1']), /^error: artifact rejected: /, { status: 1 });
});

test('compile refuses to write where it cannot', () => {
  assertFails(isola(['compile', MODULE, '-o', join(tempDir(), 'no', 'such', 'dir', 'x')]), /^error: cannot write /, { status: 1 });
});
