// isola.toml and deploy entries: every bad input is refused with one line naming the file, the key
// and what was expected; good input becomes a FunctionSpec with defaults and absolute paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { DEFAULT_LIMITS, loadManifest, parseFunctionEntry, parseManifest } from '../../src/orchestrator/manifest.js';
import { checkRoute } from '../../src/orchestrator/routes.js';
import { refusedManifest, tempDir } from './helpers.js';

const HEAD = '[function.hello]\nsource = "hello.wasm"\nroute = "/hello"\n';

const refused = refusedManifest;

test('a full entry becomes a spec: sizes, durations, env, files, isolation; relative paths resolve against the manifest', () => {
  const dir = tempDir('manifest');
  try {
    mkdirSync(join(dir.path, 'data'));
    mkdirSync(join(dir.path, 'out'));
    const toml = `${HEAD}fuel = "1_000_000"\nmax-memory = "64MiB"\ntimeout = "2s"\nmax-concurrency = 3\nmax-queue = 0\n`
      + `max-body = "4KiB"\nmax-response = 1048576\nisolation = "worker"\nenv = { GREETING = "hi", EMPTY = "" }\n`
      + `files = ["data::/data", { host = "out", guest = "/out", read-only = false }, "data::/ro/"]\n`;
    const [s] = parseManifest(`${toml}executor = "cgi"\n`, 'isola.toml', { baseDir: dir.path });
    assert.deepEqual(s, {
      name: 'hello', route: '/hello', source: join(dir.path, 'hello.wasm'),
      limits: { fuel: 1_000_000, maxMemoryBytes: 64 * 1024 ** 2, timeoutMs: 2000, maxConcurrency: 3, maxQueue: 0, maxBodyBytes: 4096, maxResponseBytes: 1048576 },
      env: { GREETING: 'hi', EMPTY: '' },
      files: [
        { hostPath: join(dir.path, 'data'), guestPath: '/data', readOnly: true },
        { hostPath: join(dir.path, 'out'), guestPath: '/out', readOnly: false },
        { hostPath: join(dir.path, 'data'), guestPath: '/ro', readOnly: true },
      ],
      isolation: 'worker', executor: 'cgi',
    });
  } finally {
    dir.remove();
  }
});

test('defaults: documented limits, no env, no files, process isolation (or the caller\'s default)', () => {
  const [s] = parseManifest(HEAD, 'isola.toml', { baseDir: '/srv' });
  assert.deepEqual(s!.limits, DEFAULT_LIMITS);
  assert.equal(s!.limits.fuel, undefined);
  assert.deepEqual([s!.env, s!.files, s!.isolation, s!.source], [{}, [], 'process', '/srv/hello.wasm']);
  assert.equal(parseManifest(HEAD, 'isola.toml', { defaultIsolation: 'inline' })[0]!.isolation, 'inline');
  assert.deepEqual(parseManifest('', 'isola.toml'), []);
});

test('wrong types and values name the key and what was expected', () => {
  refused(`${HEAD}fuel = "lots"`, 'isola.toml: function.hello.fuel: expected a whole number >= 1, got "lots"');
  refused(`${HEAD}fuel = 0`, 'isola.toml: function.hello.fuel: expected a whole number >= 1, got 0');
  refused(`${HEAD}fuel = 1.5`, /function\.hello\.fuel: expected a whole number >= 1, got 1\.5$/);
  refused(`${HEAD}max-memory = "lots"`, /function\.hello\.max-memory: expected a size >= 65536 bytes like "64MiB".*got "lots"/);
  refused(`${HEAD}max-memory = "1KiB"`, /function\.hello\.max-memory: expected a size >= 65536 bytes/);
  refused(`${HEAD}max-memory = true`, /function\.hello\.max-memory: expected .*got true$/);
  refused(`${HEAD}timeout = 5000`, 'isola.toml: function.hello.timeout: expected a duration with a unit like "500ms" or "10s", got 5000');
  refused(`${HEAD}timeout = "soon"`, /function\.hello\.timeout: expected a duration/);
  refused(`${HEAD}max-concurrency = 0`, /function\.hello\.max-concurrency: expected a whole number >= 1, got 0/);
  refused(`${HEAD}max-queue = -1`, /function\.hello\.max-queue: expected a whole number >= 0, got -1/);
  refused(`${HEAD}max-body = "0"`, /function\.hello\.max-body: expected a size/);
  refused(`${HEAD}max-response = [1]`, /function\.hello\.max-response: expected a size .*got an array/);
  refused(`${HEAD}isolation = "vm"`, 'isola.toml: function.hello.isolation: expected one of "inline", "worker", "process", got "vm"');
  refused(`${HEAD}executor = "wagi"`, /function\.hello\.executor: expected "cgi" or "wasi-http", got "wagi"/);
  assert.equal(parseManifest(HEAD, 'isola.toml')[0]!.executor, undefined, 'no executor: chosen at deploy by what the module is');
  assert.equal(parseManifest(`${HEAD}executor = "wasi-http"`, 'isola.toml')[0]!.executor, 'wasi-http');
  refused(`${HEAD}env = { A = 1 }`, 'isola.toml: function.hello.env.A: expected a string (no NUL), got 1');
  refused(`${HEAD}env = { "1A" = "x" }`, 'isola.toml: function.hello.env.1A: expected a variable name of letters, digits and "_", not starting with a digit');
  refused(`${HEAD}env = { "A=B" = "x" }`, /function\.hello\.env\.A=B: expected a variable name/);
  refused(`${HEAD}env = { A = "a\\u0000b" }`, /function\.hello\.env\.A: expected a string \(no NUL\)/);
  refused(`${HEAD}env = "A=1"`, 'isola.toml: function.hello.env: expected a table of NAME = "value", got "A=1"');
  refused(`${HEAD}source = 3`.replace('source = "hello.wasm"\n', ''), /function\.hello\.source: expected a path to a \.wasm file, got 3/);
});

test('unknown keys, reserved grants, missing keys, bad names, bad TOML', () => {
  refused(`${HEAD}fule = 1`, /^isola\.toml: function\.hello: unknown key "fule" \(expected source, route, fuel, /);
  assert.deepEqual(parseManifest(`${HEAD}key-value-stores = ["default", "cache", "default"]`, 'isola.toml')[0]!.keyValueStores, ['default', 'cache']);
  assert.deepEqual(parseManifest(`${HEAD}key_value_stores = ["default"]\nmax-kv-calls = 9`, 'isola.toml')[0]!.limits.maxKvCalls, 9);
  refused(`${HEAD}key-value-stores = ["no such"]`, /function\.hello\.key-value-stores: expected an array of store names, got an array \("no such": expected a store name/);
  refused(`${HEAD}key-value-stores = "default"`, /function\.hello\.key-value-stores: expected an array of store names/);
  refused(`${HEAD}isolation = "inline"\nkey-value-stores = ["default"]`, /function\.hello\.key-value-stores: a function with key-value stores runs in a worker or process cell/);
  refused(`${HEAD}key-value-stores = []\nkey_value_stores = []`, /both key_value_stores and key-value-stores are given/);
  refused(`${HEAD}allowed-outbound-hosts = ["example.com"]`, /function\.hello\.allowed-outbound-hosts: expected an array of "scheme:\/\/host\[:port\]" strings, got an array \("example\.com" is not scheme:\/\/host\[:port\]/);
  refused(`${HEAD}allowed-outbound-hosts = ["http://2130706433"]`, /"2130706433" is not a host name/);
  refused(`${HEAD}allowed-outbound-hosts = ["https://u@x.com"]`, /no user or password/);
  refused(`${HEAD}allowed-outbound-hosts = "https://x.com"`, /expected an array/);
  refused(`${HEAD}allowed-outbound-hosts = []\nallowed_outbound_hosts = []`, /both allowed_outbound_hosts and allowed-outbound-hosts are given/);
  const [spin] = parseManifest(`${HEAD}allowed_outbound_hosts = ["https://api.example.com", "*://localhost:*"]\nmax-outbound-requests = 5\nmax-outbound-response = "2MiB"`, 'isola.toml');
  assert.deepEqual(spin!.allowedOutboundHosts, ['https://api.example.com', '*://localhost:*']);
  assert.equal(spin!.limits.maxOutboundRequests, 5);
  assert.equal(spin!.limits.maxOutboundResponseBytes, 2 * 1024 * 1024);
  refused('[function.hello]\nroute = "/h"\n', 'isola.toml: function.hello.source: expected a path to a .wasm file (missing)');
  refused('[function.hello]\nsource = "h.wasm"\n', 'isola.toml: function.hello.route: expected a route starting with "/", got nothing (missing)');
  refused('[function.Hello]\nsource = "h.wasm"\nroute = "/h"\n', /^isola\.toml: bad function name "Hello" \(expected lower-case letters/);
  refused('[function."a/b"]\nsource = "h.wasm"\nroute = "/h"\n', /bad function name "a\/b"/);
  refused('[function."-a"]\nsource = "h.wasm"\nroute = "/h"\n', /bad function name "-a"/);
  refused(`[function.${'a'.repeat(64)}]\nsource = "h.wasm"\nroute = "/h"\n`, /bad function name/);
  refused('name = "x"\n', 'isola.toml: name: unknown key (expected [function.NAME], [key-value-store.NAME] and [cluster] tables)');
  refused('function = 1\n', 'isola.toml: function: expected [function.NAME] tables, got 1');
  refused('[function]\nhello = 3\n', 'isola.toml: function.hello: expected a table');
  refused('[function.hello\n', /^isola\.toml: line 1, column \d+: invalid TOML: /);
  refused(`${HEAD}${HEAD}`, /^isola\.toml: line \d+, column \d+: invalid TOML: /);
});

test('routes: bad syntax, reserved prefixes and duplicates (same shape) are refused', () => {
  const route = (r: string) => `[function.hello]\nsource = "h.wasm"\nroute = ${JSON.stringify(r)}\n`;
  refused(route('hello'), 'isola.toml: function.hello.route: expected a route starting with "/", got "hello"');
  for (const r of ['/a//b', '/a/', '/a/../b', '/a/./b', '/a/.../b', '/a/:', '/a/:1x', '/:x/:x', '/a b', '/a%2e', '/a\\b']) {
    refused(route(r), /function\.hello\.route: expected /);
  }
  for (const r of ['/admin', '/admin/x', '/metrics', '/.well-known/isola/health']) refused(route(r), /outside the reserved/);
  for (const r of ['/', '/...', '/a/...', '/a/:id/b', '/a-b.c_d~e/:x_1/...', '/adminx', '/metrics2']) assert.equal(checkRoute(r), null, r);
  refused('[function.a]\nsource = "a.wasm"\nroute = "/x/:id"\n[function.b]\nsource = "b.wasm"\nroute = "/x/:name"\n',
    'isola.toml: function.b.route: "/x/:name" is already the route of function.a');
});

test('files: strings and tables, read-only by default; bad entries name their index', () => {
  const dir = tempDir('manifest');
  try {
    writeFileSync(join(dir.path, 'plain'), '');
    const files = (f: string) => `${HEAD}files = ${f}\n`;
    const opts = { baseDir: dir.path };
    const fail = (f: string, re: RegExp) => assert.throws(() => parseManifest(files(f), 'isola.toml', opts), (e: IsolaError) => re.test(e.message) && !e.message.includes('\n'));
    fail('[1]', /function\.hello\.files\.0: expected "host::guest" or a table/);
    fail('"x"', /function\.hello\.files: expected an array/);
    fail('[{ host = "." , bogus = 1 }]', /function\.hello\.files\.0: unknown key "bogus" \(expected host, guest, read-only\)/);
    fail('[{ host = ".", read-only = "no" }]', /function\.hello\.files\.0\.read-only: expected true or false, got "no"/);
    fail('["missing::/d"]', /function\.hello\.files\.0: host directory ".*missing" does not exist/);
    fail('["plain::/d"]', /function\.hello\.files\.0: host path ".*plain" is not a directory/);
    fail('[".::d"]', /function\.hello\.files\.0: expected an absolute guest path without "\.\.", got "d"/);
    fail('[".::/a/../b"]', /expected an absolute guest path without "\.\."/);
    fail('["::/d"]', /function\.hello\.files\.0: expected "host::guest" with a host directory/);
    fail('[".::/d", ".::/d/"]', /function\.hello\.files\.1: guest path "\/d" is granted twice/);
    const [s] = parseManifest(files(`["${dir.path}", { host = ".", guest = "/w", read-only = false }]`), 'isola.toml', opts);
    assert.deepEqual(s!.files, [
      { hostPath: dir.path, guestPath: dir.path, readOnly: true },
      { hostPath: dir.path, guestPath: '/w', readOnly: false },
    ]);
  } finally {
    dir.remove();
  }
});

test('a deploy entry (JSON) uses the same schema; source is refused there', () => {
  const s = parseFunctionEntry('api', { route: '/api/...', timeout: '1s', 'max-memory': 1048576, 'max-table-elements': 5000 }, { where: 'manifest entry', source: 'forbidden' });
  assert.equal(s.limits.timeoutMs, 1000);
  assert.equal(s.limits.maxMemoryBytes, 1048576);
  assert.equal(s.limits.maxTableElements, 5000);
  assert.throws(() => parseFunctionEntry('api', { route: '/a', 'max-table-elements': -1 }, { where: 'manifest entry' }), { code: 'MANIFEST' });
  assert.throws(() => parseFunctionEntry('api', { route: '/a', source: 'x.wasm' }, { where: 'manifest entry', source: 'forbidden' }),
    { code: 'MANIFEST', message: 'manifest entry: function.api.source: not allowed here: a deploy carries the module bytes' });
  assert.throws(() => parseFunctionEntry('api', { route: '/a', fuel: 'lots' }, { where: 'manifest entry' }),
    { message: 'manifest entry: function.api.fuel: expected a whole number >= 1, got "lots"' });
  assert.throws(() => parseFunctionEntry('api', [1], { where: 'manifest entry' }), { message: 'manifest entry: function.api: expected a table' });
  assert.throws(() => parseFunctionEntry('../x', { route: '/a' }, { where: 'manifest entry' }), { code: 'MANIFEST', message: /bad function name "\.\.\/x"/ });
});

test('loadManifest reads a file: its name in errors, paths relative to its folder; a missing file is an IO error', () => {
  const dir = tempDir('manifest');
  try {
    const path = join(dir.path, 'isola.toml');
    writeFileSync(path, HEAD);
    assert.equal(loadManifest(path)[0]!.source, join(dir.path, 'hello.wasm'));
    writeFileSync(path, `${HEAD}fuel = "x"\n`);
    assert.throws(() => loadManifest(path), { code: 'MANIFEST', message: /^isola\.toml: function\.hello\.fuel: / });
    assert.throws(() => loadManifest(join(dir.path, 'nope.toml')), { code: 'IO', message: 'nope.toml: cannot read: ENOENT' });
  } finally {
    dir.remove();
  }
});
