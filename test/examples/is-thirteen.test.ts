import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/index.js';
import { isola, example, exampleBytes, lines } from './support.js';

test('cli: is_thirteen 13 prints 1, other numbers print 0', () => {
  for (const [arg, want] of [['13', '1'], ['12', '0'], ['0xd', '1'], ['4294967295', '0']]) {
    const r = isola(['run', '--invoke', 'is_thirteen', example('is-thirteen.wasm'), arg]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(lines(r), [want], `is_thirteen(${arg})`);
  }
});

test('library: compile, instantiate and invoke is_thirteen', () => {
  const compiled = new Engine({ cacheDir: null }).compile(exampleBytes('is-thirteen.wasm'));
  assert.deepEqual(compiled.info.exports.map((e) => e.name), ['is_thirteen']);
  const instance = compiled.instantiate();
  assert.deepEqual(instance.invoke('is_thirteen', [13]), [1]);
  assert.deepEqual(instance.invoke('is_thirteen', ['14']), [0]);
});
