// The key-value commands a user types: `isola serve` with store config, `isola deploy --kv`, `isola kv
// stores|ls|get|set|rm` over the admin API, `isola run --kv NAME=PATH` for a local run; and their bad inputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { isolaAsync, startServe, type Served } from './serve-support.js';

const COUNTER = fromRoot('examples', 'kv', 'counter.wasm');
let dir: string;
let served: Served;
before(async () => {
  dir = tempDir('isola-cli-kv-');
  served = await startServe([], dir);
});
after(async () => {
  await served?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => isolaAsync(args, { cwd: dir });

test('deploy --kv grants a store; the example counter counts per path; isola kv reads and changes the store', async () => {
  const d = await cli(['deploy', COUNTER, '--name', 'counter', '--route', '/counter/...', '--kv', 'default']);
  assert.equal(d.status, 0, d.stderr);
  for (let i = 1; i <= 3; i++) assert.equal(await (await fetch(`${served.url}/counter/a`)).text(), `${i} hits on /a\n`);
  assert.equal(await (await fetch(`${served.url}/counter/b`)).text(), '1 hits on /b\n');

  const stores = await cli(['kv', 'stores']);
  assert.equal(stores.status, 0, stores.stderr);
  assert.match(stores.stdout, /^default\tembedded store at .*kv\/default\n$/);
  const ls = await cli(['kv', 'ls', 'default']);
  assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['/a', '/b']);
  assert.equal((await cli(['kv', 'ls', 'default', '/a', '--json'])).stdout, '["/a"]\n');
  assert.equal((await cli(['kv', 'get', 'default', '/a'])).stdout, '3');
  const set = await cli(['kv', 'set', 'default', '/a', '41']);
  assert.equal(set.status, 0, set.stderr);
  assert.equal(await (await fetch(`${served.url}/counter/a`)).text(), '42 hits on /a\n');
  writeFileSync(join(dir, 'value.bin'), Buffer.from([0, 1, 2, 255]));
  assert.equal((await cli(['kv', 'set', 'default', 'bin', '--file', 'value.bin'])).status, 0);
  assert.deepEqual([...(await cli(['kv', 'get', 'default', 'bin'])).stdoutBytes], [0, 1, 2, 255]);
  const rm = await cli(['kv', 'rm', 'default', '/a']);
  assert.equal(rm.status, 0, rm.stderr);
  const gone = await cli(['kv', 'get', 'default', '/a']);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /^error: http:\/\/127\.0\.0\.1:\d+: 404 no key "\/a" in store default\n$/);
});

test('a component built for another wasi:keyvalue version is refused at deploy, in one line, and nothing changes', async () => {
  const bytes = readFileSync(fromRoot('test', 'fixtures', 'components', 'kv-handler.wasm'));
  const other = Buffer.from(bytes.toString('latin1').replaceAll('0.2.0-draft2', '0.2.0-draft3'), 'latin1');
  writeFileSync(join(dir, 'draft3.wasm'), other);
  const r = await cli(['deploy', 'draft3.wasm', '--name', 'draft3', '--route', '/draft3/...', '--kv', 'default']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*the component imports wasi:keyvalue\/store@0\.2\.0-draft3; isola gives wasi:keyvalue\/store@0\.2\.0-draft2 only/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal((await fetch(`${served.url}/draft3/x`)).status, 404);
  const same = await cli(['deploy', fromRoot('test', 'fixtures', 'components', 'kv-handler.wasm'), '--name', 'draft2', '--route', '/draft2/...', '--kv', 'default']);
  assert.equal(same.status, 0, same.stderr);
  assert.equal(await (await fetch(`${served.url}/draft2/exists/default/nothing`)).text(), 'false\n');
});

test('isola kv refuses what is not a store, a key or a value, in one line', async () => {
  for (const [args, message] of [
    [['kv', 'ls', 'nosuch'], /404 no store named nosuch \(none is configured or granted to a function by that name\)/],
    [['kv', 'get', 'bad name', 'k'], /400 store name: expected a store name/],
    [['kv', 'set', 'default', 'k'], /give the value as an argument or with --file[\s\S]*usage: isola kv set \[options\] <store> <key> \[value\]/],
    [['kv', 'set', 'default', 'k', 'v', '--file', 'x'], /give the value as an argument or with --file/],
    [['kv', 'set', 'default', 'k'.repeat(300), 'v'], /413 a key of 300 bytes \(the store takes at most 256\)/],
    [['kv', 'set', 'default', 'k', '--file', 'nope.bin'], /cannot read nope\.bin: no such file/],
  ] as const) {
    const r = await cli([...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr); // a usage error adds its hint line
  }
});

test('isola run --kv NAME=PATH: a local run with an embedded store, in a worker cell', async () => {
  const store = join(dir, 'local-store');
  for (let i = 1; i <= 2; i++) {
    const r = await cli(['run', '--kv', `default=${store}`, COUNTER]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${i} hits on /\\n$`));
  }
  const jailed = await cli(['run', '--kv', `default=${store}`, '--isolation', 'process', COUNTER]);
  assert.match(jailed.stdout, /3 hits on \/\n$/);
  const inline = await cli(['run', '--kv', 'default', '--isolation', 'inline', COUNTER]);
  assert.equal(inline.status, 2);
  assert.match(inline.stderr, /^error: --kv needs --isolation worker or process/);
  const bad = await cli(['run', '--kv', 'no good=x', COUNTER]);
  assert.match(bad.stderr, /^error: --kv 'no good=x': expected a store name/);
  const none = await cli(['run', COUNTER]);
  assert.equal(none.status, 1);
  assert.equal(none.stderr, 'error: the module imports isola:keyvalue (key-value stores): grant one with --kv NAME[=PATH]\n');
});

test('a store config that cannot work stops isola serve with one line naming the store', async () => {
  writeFileSync(join(dir, 'unreachable.toml'), '[key-value-store.cache]\ntype = "redis"\nurl = "redis://127.0.0.1:1"\n');
  writeFileSync(join(dir, 'bad-type.toml'), '[key-value-store.cache]\ntype = "mongo"\n');
  for (const [file, message] of [
    ['unreachable.toml', /^error: key-value store "cache": redis at redis:\/\/127\.0\.0\.1:1 is unreachable/],
    ['bad-type.toml', /^error: bad-type\.toml: key-value-store\.cache\.type: expected "embedded", "redis" or "nats", got "mongo"\n$/],
  ] as const) {
    const r = await cli(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, `data-${file}`), '--runtime-config', file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const quick = await cli(['serve', '--kv', 'default']);
  assert.match(quick.stderr, /^error: --kv grants stores to the module of quick mode/);
});
