// `isola deploy`, `functions`, `rollback`, `rm` against a fake admin API (a node:http server in this
// test): what they send (manifest entry, token, bytes), what they print, and the one-line errors for
// a refused token, a 4xx with the server's message, an unreachable server and bad flags.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderBar } from '../../src/cli/progress-bar.js';
import { formatFunctions } from '../../src/cli/functions.js';
import type { FunctionSummary } from '../../src/orchestrator/types.js';
import { CLI, fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { assertFails } from './support.js';
import { isolaAsync } from './serve-support.js';

const HELLO = fromRoot('test', 'fixtures', 'cgi', 'hello.wasm');
const TOKEN = 'test-token-0123456789abcdef';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
const seen: Seen[] = [];
let reply: (req: Seen, res: ServerResponse) => void = () => undefined;

const version = (id: string, createdAt = '2026-11-21T20:30:00.000Z') => ({
  id, moduleSha256: 'ab'.repeat(32), size: 2048, createdAt, spec: {},
});

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(parts) };
    seen.push(s);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      return res.end(JSON.stringify({ error: 'missing or wrong admin token' }));
    }
    reply(s, res);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const URL_ = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
after(() => server.close());

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const cli = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) =>
  isolaAsync(args, { env: { ISOLA_SERVER: URL_, ISOLA_TOKEN: TOKEN, ...env }, cwd });

test('deploy sends the bytes, the token and the manifest entry as isola.toml spells it', async () => {
  seen.length = 0;
  reply = (_s, res) => json(res, 201, { function: 'hello', version: version('0123456789abcdef'), active: '0123456789abcdef' });
  const dir = tempDir();
  const r = await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello', '--fuel', '1_000_000', '--max-memory', '16MiB',
    '--timeout', '2s', '--max-concurrency', '4', '--max-body', '64KiB', '--env', 'GREETING=hé', '--dir-ro', `${dir}::/data`, '--isolation', 'worker']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `deployed hello version 0123456789abcdef (2.0 KiB), active at ${URL_}/hello\n`);
  assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
  const s = seen[0]!;
  assert.equal(s.method, 'PUT');
  assert.equal(s.url, '/admin/functions/hello');
  assert.equal(s.headers.authorization, `Bearer ${TOKEN}`);
  assert.deepEqual(s.body, readFileSync(HELLO));
  const header = s.headers['x-isola-manifest'] as string;
  assert.match(header, /^[\x20-\x7e]+$/, 'the manifest header is ASCII');
  assert.deepEqual(JSON.parse(header), {
    route: '/hello', fuel: 1_000_000, 'max-memory': '16MiB', timeout: '2s', 'max-concurrency': 4, 'max-body': '64KiB',
    env: { GREETING: 'hé' }, files: [{ host: dir, guest: '/data', 'read-only': true }], isolation: 'worker',
  });
});

test('deploy --no-activate stores without switching; the streamed (ndjson) answer is understood', async () => {
  seen.length = 0;
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"phase":"received","bytes":10}\n{"phase":"compiling"}\n');
    res.end(`${JSON.stringify({ ok: true, function: 'hello', version: version('fedcba9876543210'), active: '0123456789abcdef' })}\n`);
  };
  const r = await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello', '--no-activate']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(seen[0]!.url, '/admin/functions/hello?activate=false');
  assert.equal(r.stdout, 'deployed hello version fedcba9876543210 (2.0 KiB), not active (active: 0123456789abcdef); switch with: isola activate hello fedcba9876543210\n');
});

test('a deploy refused inside the progress stream is one line with the status and the message', async () => {
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end('{"phase":"received","bytes":10}\n{"ok":false,"status":400,"error":"module is not valid: bad magic"}\n');
  };
  assertFails(await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello']), `${URL_}: 400 module is not valid: bad magic`, { status: 1 });
});

test('something that is not an isola server is one line, not a crash', async () => {
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end('{"phase":"received"}\n<html>oops</html>\n');
  };
  assertFails(await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello']), `${URL_} sent a malformed progress line: <html>oops</html>`, { status: 1 });
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end('{"phase":"received"}\n');
  };
  assertFails(await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello']), `${URL_} ended the deploy without a result (did the server stop?)`, { status: 1 });
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>hello</html>');
  };
  assertFails(await cli(['functions']), `${URL_} answered 200 with something that is not JSON (is it an isola server?)`, { status: 1 });
});

test("a 4xx answer is one line carrying the server's message", async () => {
  reply = (_s, res) => json(res, 409, { error: 'route /hello is taken by function other' });
  assertFails(await cli(['deploy', HELLO, '--name', 'hello', '--route', '/hello']), `${URL_}: 409 route /hello is taken by function other`, { status: 1 });
  reply = (_s, res) => json(res, 404, { error: 'no function named nope' });
  assertFails(await cli(['rollback', 'nope']), `${URL_}: 404 no function named nope`, { status: 1 });
});

test('a wrong or missing token: one line that says how to give one', async () => {
  const r = await cli(['functions'], { ISOLA_TOKEN: 'wrong' });
  assertFails(r, /^error: http:\/\/127\.0\.0\.1:\d+ refused the admin token \(401 missing or wrong admin token\); give --token/, { status: 1 });
  const cwd = tempDir(); // no .isola/admin-token here
  assertFails(await cli(['functions'], { ISOLA_TOKEN: '' }, cwd), /refused the admin token \(401/, { status: 1 });
});

test('the token defaults to ./.isola/admin-token; --server and --token beat the environment', async () => {
  reply = (_s, res) => json(res, 200, { functions: [] });
  const cwd = tempDir();
  mkdirSync(join(cwd, '.isola'));
  writeFileSync(join(cwd, '.isola', 'admin-token'), `${TOKEN}\n`, { mode: 0o600 });
  const r = await cli(['functions'], { ISOLA_TOKEN: '' }, cwd);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'no functions deployed\n');
  const flags = await cli(['functions', '--server', URL_, '--token', TOKEN], { ISOLA_SERVER: 'http://127.0.0.1:1', ISOLA_TOKEN: 'wrong' });
  assert.equal(flags.status, 0, flags.stderr);
});

test('an unreachable server is one line naming it', async () => {
  for (const args of [['functions'], ['rm', 'x'], ['rollback', 'x'], ['deploy', HELLO, '--name', 'x', '--route', '/x']]) {
    assertFails(await cli([...args, '--server', 'http://127.0.0.1:1']),
      'cannot reach the isola server at http://127.0.0.1:1: connection refused; is `isola serve` running there?', { status: 1 });
  }
  assertFails(await cli(['functions', '--server', 'not a url']), "invalid server URL 'not a url' (expected e.g. http://127.0.0.1:3000)", { status: 2, usage: true });
});

test('functions lists versions with the active one marked; --json gives the summaries', async () => {
  const functions = [
    { name: 'hello', route: '/hello', active: 'bbbbbbbbbbbbbbbb', versions: [version('bbbbbbbbbbbbbbbb', '2026-11-21T20:31:00.000Z'), version('aaaaaaaaaaaaaaaa')] },
    { name: 'static-files', route: '/static/...', active: null, versions: [] },
  ];
  reply = (s, res) => (s.url === '/admin/functions' ? json(res, 200, { functions }) : json(res, 404, { error: 'no' }));
  const r = await cli(['functions']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, [
    'hello         /hello',
    '  * bbbbbbbbbbbbbbbb  2026-11-21 20:31  2.0 KiB',
    '    aaaaaaaaaaaaaaaa  2026-11-21 20:30  2.0 KiB',
    'static-files  /static/...  (no active version)',
    '',
  ].join('\n'));
  const j = await cli(['functions', '--json']);
  assert.deepEqual(JSON.parse(j.stdout), functions);
  assert.equal(formatFunctions([] as FunctionSummary[]), 'no functions deployed\n');
});

test('activate, rollback and rm call their endpoints and say what happened', async () => {
  seen.length = 0;
  reply = (s, res) => (s.method === 'POST'
    ? json(res, 200, { function: 'hello', active: 'aaaaaaaaaaaaaaaa', version: version('aaaaaaaaaaaaaaaa') })
    : json(res, 200, { function: 'hello', removed: true }));
  const ac = await cli(['activate', 'hello', 'aaaaaaaaaaaaaaaa']);
  assert.equal(ac.stdout, 'hello: active version aaaaaaaaaaaaaaaa\n');
  const rb = await cli(['rollback', 'hello']);
  assert.equal(rb.stdout, 'hello: rolled back, active version aaaaaaaaaaaaaaaa\n');
  const rm = await cli(['rm', 'hello']);
  assert.equal(rm.stdout, 'removed hello\n');
  assert.deepEqual(seen.map((s) => `${s.method} ${s.url} ${s.body.toString()}`), [
    'POST /admin/functions/hello/activate {"version":"aaaaaaaaaaaaaaaa"}',
    'POST /admin/functions/hello/rollback ',
    'DELETE /admin/functions/hello ',
  ]);
});

test('bad deploy flags fail before anything is sent, with the usage hint', async () => {
  seen.length = 0;
  const base = ['deploy', HELLO, '--name', 'hello', '--route', '/hello'];
  const cases: Array<[string[], RegExp | string, { status: number; usage?: boolean }]> = [
    [[...base, '--fuel', 'lots'], /^error: invalid fuel 'lots'/, { status: 2, usage: true }],
    [[...base, '--max-memory', '12XB'], /^error: invalid memory limit '12XB'/, { status: 2, usage: true }],
    [[...base, '--timeout', '5'], /^error: invalid timeout '5'/, { status: 2, usage: true }],
    [[...base, '--max-concurrency', '0'], "invalid max concurrency '0' (expected a whole number of at least 1)", { status: 2, usage: true }],
    [[...base, '--max-body', 'big'], /^error: invalid max body size 'big'/, { status: 2, usage: true }],
    [[...base, '--isolation', 'vm'], "invalid isolation 'vm' (expected inline, worker, process)", { status: 2, usage: true }],
    [[...base, '--dir', '::/x'], "--dir '::/x': expected HOST or HOST::GUEST", { status: 2, usage: true }],
    [[...base, '--env', 'UNSET_IN_THIS_SHELL_1234'], /^error: --env UNSET_IN_THIS_SHELL_1234: not set/, { status: 2, usage: true }],
    [['deploy', HELLO, '--route', '/hello'], "required option '--name <name>' not specified", { status: 2, usage: true }],
    [['deploy', '/nonexistent.wasm', '--name', 'x', '--route', '/x'], 'cannot read /nonexistent.wasm: no such file', { status: 1 }],
    // names are checked by the client with the server's rule, before a URL is made of them
    [['deploy', HELLO, '--name', 'Bad/../Name', '--route', '/hello'], /^error: bad function name "Bad\/\.\.\/Name" \(expected lower-case/, { status: 2, usage: true }],
    [['rm', 'x%2fy'], /^error: bad function name "x%2fy"/, { status: 2, usage: true }],
    [['rollback', ''], /^error: bad function name ""/, { status: 2, usage: true }],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(args)));
  results.forEach((r, i) => assertFails(r, cases[i]![1], cases[i]![2]));
  assert.equal(seen.length, 0);
});

test('the progress bar (drawn only on a terminal) renders bytes and phases', () => {
  assert.equal(renderBar(0, 4 * 1024 ** 2, 'uploading'), '[........................]   0%  0 B/4.0 MiB  uploading');
  assert.equal(renderBar(1024 ** 2, 4 * 1024 ** 2, 'uploading'), '[######..................]  25%  1.0 MiB/4.0 MiB  uploading');
  assert.equal(renderBar(5, 4, 'server: compiling'), '[########################] 100%  5 B/4 B  server: compiling');
});

test('on a terminal, deploy draws the bar while uploading and erases it before the result', async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('script(1) (util-linux) is not installed');
  reply = (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(`{"phase":"received","bytes":3145728}\n{"phase":"compiling"}\n${JSON.stringify({ ok: true, function: 'big', version: version('0123456789abcdef'), active: '0123456789abcdef' })}\n`);
  };
  const big = join(tempDir(), 'big.wasm');
  writeFileSync(big, new Uint8Array(3 * 1024 * 1024));
  const command = [process.execPath, CLI, 'deploy', big, '--name', 'big', '--route', '/big', '--server', URL_, '--token', TOKEN]
    .map((a) => `'${a}'`).join(' ');
  // script(1) gives the CLI a pseudo-terminal; the test's own loop must stay free to answer, hence async.
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  const status = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(status, 0, out);
  assert.match(out, /\r\[#+\.*\] +\d+%  [\d.]+ (KiB|MiB)\/3\.0 MiB  uploading\x1b\[K/);
  assert.match(out, /\r\[#{24}\] 100%  3\.0 MiB\/3\.0 MiB  server: compiling\x1b\[K/);
  assert.match(out, /\r\x1b\[Kdeployed big version 0123456789abcdef \(2\.0 KiB\), active at /);
});
