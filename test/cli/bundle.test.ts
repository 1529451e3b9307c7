// The CLI ships as one esbuild bundle (scripts/bundle-cli.mjs, run after tsc by `npm run build`) to
// keep start-up fast; bin/isola.js loads it. Every other CLI test goes through it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fromRoot } from '../helpers/root.js';
import { isola } from './support.js';

const BUNDLE = fromRoot('dist', 'bundle', 'cli', 'isola.js');

test('the built bundle exists, holds commander, and bin/isola.js loads it', () => {
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build`);
  const source = readFileSync(BUNDLE, 'utf8');
  assert.doesNotMatch(source, /^import .* from ["']commander["']/m, 'commander is bundled, not resolved at run time');
  assert.match(readFileSync(fromRoot('bin', 'isola.js'), 'utf8'), /dist\/bundle\/cli\/isola\.js/);
  const r = isola(['--version']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `isola ${(JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version}\n`);
});
