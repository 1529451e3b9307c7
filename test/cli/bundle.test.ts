// The CLI ships as one bundled file (scripts/bundle-cli.mjs, run after tsc by `npm run build`) to
// keep start-up fast. This bundles the current build under another name and drives it like a user.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fromRoot, ROOT } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';

const NAME = `main.bundle-under-test-${process.pid}.js`;
const BUNDLE = fromRoot('dist', 'src', 'cli', NAME);
after(() => rmSync(BUNDLE, { force: true }));

function cli(args: string[], input = '') {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { cwd: ROOT, input, env: { ...process.env, ISOLA_CACHE_DIR: tempDir() } });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test('every module the CLI loads can be bundled, and the bundle behaves like the modules', () => {
  const b = spawnSync(process.execPath, ['scripts/bundle-cli.mjs', '--out', NAME], { cwd: ROOT });
  assert.equal(b.status, 0, b.stderr.toString());
  assert.match(b.stdout.toString(), /^bundle-cli: \d+ modules/, `${b.stdout}${b.stderr}`);

  assert.match(cli(['--version']).stdout, /^isola \d/);
  assert.equal(cli(['run', '--invoke', 'is_thirteen', 'examples/is-thirteen.wasm', '13']).stdout, '1\n');
  assert.equal(cli(['run', '--fuel', '100000', '--timeout', '5s', '--invoke', 'is_thirteen', 'examples/is-thirteen.wasm', '13']).stdout, '1\n');
  assert.match(cli(['run', 'test/fixtures/wasi/hello.wasm']).stdout, /hello/);
  assert.equal(cli(['run', '--buffer', 'process_data', 'examples/reverse.wasm'], 'abc').stdout, 'cba');
  const trap = cli(['run', '--backtrace', '--invoke', 'run', 'examples/trap.wasm', '100000000']);
  assert.equal(trap.status, 1);
  assert.match(trap.stderr, /^error: wasm trap: out of bounds memory access\nwasm backtrace:\n {2}at lookup_record /);
  const usage = cli(['run', '--fuel', '-1', 'x.wasm']);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^error: invalid fuel '-1'/);
  assert.equal(JSON.parse(cli(['inspect', '--json', 'examples/is-thirteen.wasm']).stdout).exports[0].name, 'is_thirteen');
});
