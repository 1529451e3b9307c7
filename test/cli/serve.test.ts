// `isola serve` as a user runs it: started empty in a folder, functions deployed, listed, redeployed,
// rolled back, activated and removed through the CLI, and requests answered over HTTP in between; a folder with
// an isola.toml; bad flags, a bad manifest and a busy port as one line; SIGTERM drains in-flight work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { statSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { assertFails } from './support.js';
import { isolaAsync, startServe, type Served } from './serve-support.js';

const CGI = (name: string): string => fromRoot('test', 'fixtures', 'cgi', `${name}.wasm`);
// inline cells keep the test fast and independent of the jail (tested by the cells' own tests).
const ISOLATION = ['--isolation', 'inline'];

async function get(url: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function withServe(args: string[], cwd: string, body: (s: Served) => Promise<void>): Promise<void> {
  const served = await startServe([...ISOLATION, ...args], cwd);
  try {
    await body(served);
  } finally {
    await served.kill();
  }
}

test('started empty: deploy, list, redeploy, rollback and rm through the CLI while it serves', async () => {
  const cwd = tempDir('isola-serve-');
  await withServe([], cwd, async (s) => {
    // The first start generates the token, prints it once and stores it 0600 in ./.isola/.
    const token = readFileSync(join(cwd, '.isola', 'admin-token'), 'utf8').trim();
    assert.match(s.stderr(), new RegExp(`^isola: admin token \\(shown once; stored in .*admin-token\\): ${token}$`, 'm'));
    assert.equal(statSync(join(cwd, '.isola', 'admin-token')).mode & 0o777, 0o600);
    assert.match(s.stderr(), /no isola\.toml: waiting for deploys/);
    const cli = (...args: string[]) => isolaAsync([...args, '--server', s.url], { cwd }); // token from ./.isola

    assert.equal((await cli('functions')).stdout, 'no functions deployed\n');
    const d1 = await cli('deploy', CGI('hello'), '--name', 'hello', '--route', '/hello', '--timeout', '5s');
    assert.equal(d1.status, 0, d1.stderr);
    const v1 = /version ([0-9a-f]{16})/.exec(d1.stdout)![1]!;
    assert.match(d1.stdout, new RegExp(`, active at ${s.url}/hello\\n$`));
    assert.deepEqual(await get(`${s.url}/hello`).then((r) => [r.status, r.body]), [200, 'hello from isola\n']);

    const d2 = await cli('deploy', CGI('counter'), '--name', 'hello', '--route', '/hello');
    assert.equal(d2.status, 0, d2.stderr);
    const v2 = /version ([0-9a-f]{16})/.exec(d2.stdout)![1]!;
    assert.notEqual(v1, v2);
    // A fresh instance per request: the counter guest's global never gets past 1.
    for (let i = 0; i < 3; i++) assert.equal((await get(`${s.url}/hello`)).body.trim(), '1');

    const list = await cli('functions');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^hello {2}\/hello\n {2}\* ([0-9a-f]{16}) .*\n {4}([0-9a-f]{16}) /);
    assert.ok(list.stdout.includes(`* ${v2}`) && list.stdout.includes(`    ${v1}`), list.stdout);
    const json = JSON.parse((await cli('functions', '--json')).stdout) as Array<{ name: string; active: string; versions: unknown[] }>;
    assert.deepEqual(json.map((f) => [f.name, f.active, f.versions.length]), [['hello', v2, 2]]);

    const rb = await cli('rollback', 'hello');
    assert.equal(rb.stdout, `hello: rolled back, active version ${v1}\n`);
    assert.equal((await get(`${s.url}/hello`)).body, 'hello from isola\n');

    // Stored without switching, then switched by hand.
    const d3 = await cli('deploy', CGI('nohdr'), '--name', 'hello', '--route', '/hello', '--no-activate');
    const v3 = /version ([0-9a-f]{16})/.exec(d3.stdout)![1]!;
    assert.match(d3.stdout, new RegExp(`not active \\(active: ${v1}\\); switch with: isola activate hello ${v3}\n$`));
    assert.equal((await get(`${s.url}/hello`)).body, 'hello from isola\n');
    assert.equal((await cli('activate', 'hello', v3)).stdout, `hello: active version ${v3}\n`);
    assert.notEqual((await get(`${s.url}/hello`)).body, 'hello from isola\n');
    assert.equal((await cli('activate', 'hello', v1)).status, 0);
    assert.equal((await get(`${s.url}/hello`)).body, 'hello from isola\n');
    assertFails(await cli('activate', 'hello', 'ffffffffffffffff'), /^error: http:\/\/127\.0\.0\.1:\d+: 404 /, { status: 1 });

    // A failed deploy changes nothing.
    assertFails(await cli('deploy', fromRoot('package.json'), '--name', 'hello', '--route', '/hello'), /^error: http:\/\/127\.0\.0\.1:\d+: 400 /);
    assert.equal((await get(`${s.url}/hello`)).body, 'hello from isola\n');

    assert.equal((await cli('rm', 'hello')).stdout, 'removed hello\n');
    assert.equal((await get(`${s.url}/hello`)).status, 404);
    assertFails(await cli('rollback', 'hello'), /^error: http:\/\/127\.0\.0\.1:\d+: 404 /, { status: 1 });
  });
  // The second start finds the stored token and does not print it again.
  await withServe([], cwd, async (s) => {
    assert.doesNotMatch(s.stderr(), /admin token/);
  });
});

test('in a folder with isola.toml it serves the manifest', async () => {
  const cwd = tempDir('isola-serve-manifest-');
  writeFileSync(join(cwd, 'isola.toml'), `[function.greet]\nsource = "${CGI('hello')}"\nroute = "/greet/..."\ntimeout = "5s"\n`);
  await withServe(['--data-dir', join(cwd, 'state')], cwd, async (s) => {
    assert.match(s.stderr(), /^isola: serving http:\/\/127\.0\.0\.1:\d+ \(.*isola\.toml\)$/m);
    assert.match(s.stderr(), new RegExp(`^isola:   greet → ${s.url}/greet/$`, 'm'));
    assert.equal((await get(`${s.url}/greet/any/thing`)).body, 'hello from isola\n');
    assert.equal((await get(`${s.url}/.well-known/isola/health`)).status, 200);
  });
});

test('quick mode: isola serve MODULE serves one wasi:http component on every path, keeps no state, and ignores ./isola.toml', async () => {
  const cwd = tempDir('isola-serve-quick-');
  writeFileSync(join(cwd, 'isola.toml'), '[function.x]\nsource = "missing.wasm"\nroute = "/x"\n'); // would fail if read
  const served = await startServe(['--isolation', 'worker', fromRoot('test', 'fixtures', 'components', 'http-handler.wasm')], cwd);
  try {
    assert.match(served.stderr(), /^isola: serving http:\/\/127\.0\.0\.1:\d+ \(.*http-handler\.wasm\)$/m);
    assert.match(served.stderr(), new RegExp(`^isola:   http-handler → ${served.url}/$`, 'm'));
    for (const path of ['/hello', '/a/b/hello?q=1']) {
      const r = await fetch(`${served.url}${path}`);
      assert.equal(await r.text(), 'hello from wasi:http\n');
      assert.equal(r.headers.get('x-path'), path);
    }
    served.child.kill('SIGTERM');
    assert.equal(await served.exited, 0);
    assert.throws(() => statSync(join(cwd, '.isola')), 'no data directory in the folder');
  } finally {
    await served.kill();
  }
  const both = await isolaAsync(['serve', '--manifest', join(cwd, 'isola.toml'), 'x.wasm'], { cwd });
  assertFails(both, /^error: give a module or --manifest, not both$/, { status: 2, usage: true });
  const none = await isolaAsync(['serve', join(cwd, 'nothing.wasm')], { cwd });
  assertFails(none, /^error: cannot read .*nothing\.wasm: no such file$/);
});

test('a bad manifest, bad flags and a busy port: one error line and a non-zero exit', async () => {
  const cwd = tempDir('isola-serve-bad-');
  writeFileSync(join(cwd, 'isola.toml'), `[function.hello]\nsource = "${CGI('hello')}"\nroute = "/hello"\nfuel = "lots"\n`);
  const serve = (...args: string[]) => isolaAsync(['serve', '--listen', '127.0.0.1:0', ...args], { cwd });
  assertFails(await serve(), /^error: .*isola\.toml: function\.hello\.fuel: expected a whole number/, { status: 1 });

  const empty = tempDir('isola-serve-flags-');
  const file = join(empty, 'a-file');
  writeFileSync(file, '');
  const cases: Array<[string[], RegExp | string, { status: number; usage?: boolean }]> = [
    [['--listen', 'nowhere'], /^error: bad listen address "nowhere"/, { status: 2, usage: true }],
    [['--isolation', 'vm'], "invalid isolation 'vm' (expected inline, worker, process)", { status: 2, usage: true }],
    [['--log-level', 'loud'], /^error: invalid log level 'loud'/, { status: 2, usage: true }],
    [['--drain-timeout', '5'], /^error: invalid drain timeout '5'/, { status: 2, usage: true }],
    [['--admin-token', 'short'], '--admin-token must be at least 16 characters', { status: 2, usage: true }],
    [['--bogus'], "unknown option '--bogus'", { status: 2, usage: true }],
    [['--manifest', join(empty, 'missing.toml')], `cannot read ${join(empty, 'missing.toml')}: no such file`, { status: 1 }],
    [['--manifest', empty], `cannot read ${empty}: is a directory (--manifest takes an isola.toml)`, { status: 1 }],
    [['--data-dir', join(file, 'state')], `cannot create the data directory ${join(file, 'state')}: a file is in the way`, { status: 1 }],
    [['--admin-listen', 'nowhere'], /^error: bad --admin-listen address "nowhere"/, { status: 2, usage: true }],
    [['--send-timeout', '5'], /^error: invalid send timeout '5'/, { status: 2, usage: true }],
    [['--max-connections', '0'], "invalid max connections '0' (expected a whole number of at least 1)", { status: 2, usage: true }],
    [['--allow-isolation', 'process,vm'], "invalid isolation 'vm' (expected inline, worker, process)", { status: 2, usage: true }],
    [['--allow-isolation', 'process,'], "invalid --allow-isolation 'process,' (expected a list like process,worker)", { status: 2, usage: true }],
    [['--isolation', 'worker', '--allow-isolation', 'process'], '--isolation worker is not among --allow-isolation process (functions that do not say would be refused): add it there', { status: 2, usage: true }],
    [['--allow-dir', join(empty, 'missing')], `--allow-dir ${join(empty, 'missing')}: no such directory`, { status: 2, usage: true }],
    [['--allow-dir', file], `--allow-dir ${file}: not a directory`, { status: 2, usage: true }],
  ];
  // Side by side: each is a whole process start.
  const results = await Promise.all(cases.map(([args]) => isolaAsync(['serve', '--listen', '127.0.0.1:0', ...args], { cwd: empty })));
  results.forEach((r, i) => assertFails(r, cases[i]![1], cases[i]![2]));

  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (busy.address() as { port: number }).port;
    assertFails(await isolaAsync(['serve', '--listen', `127.0.0.1:${port}`], { cwd: empty }), new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: `), { status: 1 });
  } finally {
    busy.close();
  }
});

test('SIGTERM stops accepting, lets the in-flight request finish, exits 0', async () => {
  const cwd = tempDir('isola-serve-drain-');
  await withServe(['--drain-timeout', '20s', '--allow-isolation', 'inline,worker'], cwd, async (s) => {
    // A worker cell: the guest spins on its own thread while the server's thread handles the signal.
    const d = await isolaAsync(['deploy', CGI('spin'), '--name', 'spin', '--route', '/spin', '--timeout', '1500ms', '--isolation', 'worker', '--server', s.url], { cwd });
    assert.equal(d.status, 0, d.stderr);
    // One request first, so the cell is up and the measured one starts running at once.
    assert.equal((await get(`${s.url}/spin`)).status, 504);
    const started = Date.now();
    const inflight = get(`${s.url}/spin`);
    await new Promise((r) => setTimeout(r, 400));
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    // Draining: new requests are turned away (503, or the listening socket is already closed).
    const late = await fetch(`${s.url}/.well-known/isola/health`).then((res) => res.status, () => 'refused');
    assert.ok(late === 503 || late === 'refused', `a request during the drain got ${late}`);
    // The in-flight request runs to its own end (the guest's 1.5 s timeout: 504), it is not cut off.
    const r = await inflight;
    assert.equal(r.status, 504, r.body);
    assert.ok(Date.now() - started >= 1400, 'answered only when the guest hit its timeout');
    assert.equal(await s.exited, 0);
    await assert.rejects(fetch(`${s.url}/.well-known/isola/health`), 'no longer accepting');
  });
});

test('--admin-listen: the admin API only there, found by the admin commands run in the folder; a network --listen warns', async () => {
  const cwd = tempDir('isola-serve-admin-');
  await withServe(['--admin-listen', '127.0.0.1:0'], cwd, async (s) => {
    const adminUrl = /^isola: admin API on (http:\S+) \(not on /m.exec(s.stderr())?.[1];
    assert.ok(adminUrl && adminUrl !== s.url, s.stderr());
    assert.doesNotMatch(s.stderr(), /warning/);
    assert.equal(readFileSync(join(cwd, '.isola', 'admin-url'), 'utf8'), `${adminUrl}\n`);
    const authorization = `Bearer ${readFileSync(join(cwd, '.isola', 'admin-token'), 'utf8').trim()}`;
    assert.equal((await fetch(`${s.url}/admin/functions`, { headers: { authorization } })).status, 404, 'not on the main listener');
    assert.equal((await fetch(`${adminUrl}/admin/functions`, { headers: { authorization } })).status, 200);
    const d = await isolaAsync(['deploy', CGI('hello'), '--name', 'hello', '--route', '/hello'], { cwd }); // no --server
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(await get(`${s.url}/hello`).then((r) => [r.status, r.body]), [200, 'hello from isola\n']);
    assert.equal((await get(`${adminUrl}/hello`)).status, 404, 'functions are not served on the admin listener');
  });
  // Listening on every interface with the admin API there too: one warning line, and how to avoid it.
  await withServe(['--listen', '0.0.0.0:0'], tempDir('isola-serve-wide-'), async (s) => {
    const warnings = s.stderr().split('\n').filter((l) => /warning/.test(l));
    assert.deepEqual(warnings, ['isola: warning: the admin API is reachable from the network (--listen 0.0.0.0:0); use --admin-listen 127.0.0.1:PORT to serve it on this machine only']);
  });
  await withServe(['--listen', '0.0.0.0:0', '--admin-listen', '127.0.0.1:0'], tempDir('isola-serve-split-'), async (s) => {
    assert.doesNotMatch(s.stderr(), /warning/);
  });
});
