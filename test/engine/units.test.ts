import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError, formatDuration, parseDuration, parseFuel, parseSize } from '../../src/index.js';

const usage = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => e instanceof IsolaError && e.code === 'USAGE');

test('sizes: bytes, KiB/MiB/GiB and K/M/G', () => {
  assert.equal(parseSize('65536'), 65536);
  assert.equal(parseSize('64KiB'), 65536);
  assert.equal(parseSize('64k'), 65536);
  assert.equal(parseSize('16MiB'), 16 * 2 ** 20);
  assert.equal(parseSize('16M'), 16 * 2 ** 20);
  assert.equal(parseSize('1GiB'), 2 ** 30);
  assert.equal(parseSize('1.5KiB'), 1536);
  for (const bad of ['0', '0MiB', '-1', 'lots', '1.5', '10XB', '']) usage(() => parseSize(bad));
});

test('durations need a unit', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1m'), 60_000);
  for (const bad of ['500', '0s', '-1s', 'soon', '1y', '']) usage(() => parseDuration(bad));
  assert.equal(formatDuration(500), '500ms');
  assert.equal(formatDuration(2000), '2s');
  assert.equal(formatDuration(60_000), '1m');
});

test('fuel: whole numbers only', () => {
  assert.equal(parseFuel('1000000'), 1_000_000n);
  assert.equal(parseFuel('1_000'), 1000n);
  assert.equal(parseFuel('0x10'), 16n);
  assert.equal(parseFuel('0'), 0n);
  for (const bad of ['-5', '1.5', 'many', '', '9223372036854775808']) usage(() => parseFuel(bad));
});
