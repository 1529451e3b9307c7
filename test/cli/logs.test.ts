// `isola logs` against a running `isola serve`: one line per record (time, request id, version, text), --json,
// --tail, --since, --follow; a guest's control characters never reach the terminal; bad flags are one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { formatLogRecord } from '../../src/cli/logs.js';
import { CLI, fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { assertFails } from './support.js';
import { isolaAsync, startServe } from './serve-support.js';

const CGI = (name: string): string => fromRoot('test', 'fixtures', 'cgi', `${name}.wasm`);
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) ([0-9a-f]{16}) (.*)$/;

test('isola logs: the guest\'s stderr per request, --json, --tail, --since, --follow, and one-line errors', async () => {
  const cwd = tempDir('isola-logs-cli-');
  const s = await startServe(['--isolation', 'inline'], cwd);
  try {
    const cli = (...args: string[]) => isolaAsync(args, { cwd }); // server and token from ./.isola
    const d = await cli('deploy', CGI('stderr'), '--name', 'talk', '--route', '/talk');
    assert.equal(d.status, 0, d.stderr);
    const version = /version ([0-9a-f]{16})/.exec(d.stdout)![1]!;
    const ok = await fetch(`${s.url}/talk`);
    assert.equal(ok.status, 200);
    const id = ok.headers.get('x-request-id')!;

    const plain = await cli('logs', 'talk');
    assert.equal(plain.status, 0, plain.stderr);
    const lines = plain.stdout.trimEnd().split('\n').map((l) => LINE.exec(l));
    assert.deepEqual(lines.map((m) => m && [m[2], m[3], m[4]]), [
      [id, version, 'handling a request'],
      [id, version, 'not utf-8: \ufffd!'],
      [id, version, 'no newline at the end'],
    ]);
    const trap = await fetch(`${s.url}/talk?trap`);
    assert.equal(trap.status, 500);
    const trapId = trap.headers.get('x-request-id')!;
    const tail = await cli('logs', 'talk', '--tail', '1');
    assert.match(tail.stdout, /^\S+ \S+ [0-9a-f]{16} \[isola\] request failed \(500\): wasm trap: unreachable\n$/);
    const json = await cli('logs', 'talk', '--json', '--since', '10m');
    const records = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(Object.keys(records[0]!).sort(), ['function', 'requestId', 'stream', 'text', 'time', 'version']);
    assert.ok(records.length >= 4);
    assert.equal((await cli('logs', 'talk', '--since', '2999-01-01T00:00:00Z')).stdout, '');

    // --follow prints new lines as they come, until stopped.
    const follower = spawn(process.execPath, [CLI, 'logs', 'talk', '--follow', '--tail', '1'], { cwd, env: { ...process.env, ISOLA_SERVER: '', ISOLA_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follower.stdout.on('data', (c: Buffer) => (followed += c));
    const until = async (what: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      await until(() => followed.includes('request failed (500)')); // the last line: the follow has begun
      const next = await fetch(`${s.url}/talk`);
      const nextId = next.headers.get('x-request-id')!;
      await until(() => followed.includes('no newline at the end'));
      assert.deepEqual(followed.trimEnd().split('\n').map((l) => LINE.exec(l)?.[2]), [trapId, nextId, nextId, nextId], followed);
    } finally {
      follower.kill();
    }

    assertFails(await cli('logs', 'talk', '--since', 'soon'), "invalid since 'soon' (expected a number with a unit: 500ms, 2s, 1m)", { status: 2, usage: true });
    assertFails(await cli('logs', 'talk', '--tail', 'all'), "invalid tail 'all' (expected a number of lines, e.g. 100)", { status: 2, usage: true });
    assertFails(await cli('logs', 'nobody'), /^error: http:\/\/127\.0\.0\.1:\d+: 404 no function named nobody$/, { status: 1 });
    assertFails(await cli('logs', 'Bad_Name'), /^error: .*function name/, { status: 2, usage: true });
  } finally {
    await s.kill();
  }
});

test('a guest\'s escape sequences are shown escaped, never sent to the terminal', () => {
  const line = formatLogRecord({ time: 't', requestId: 'r', function: 'f', version: 'v', stream: 'stderr', text: 'red \x1b[31mtext\x1b]0;title\x07 \u009b2J tab\tok' });
  assert.equal(line, 't r v red \\x1b[31mtext\\x1b]0;title\\x07 \\x9b2J tab\tok\n');
  assert.equal(formatLogRecord({ time: 't', requestId: '', function: 'f', version: '', stream: 'isola', text: 'x' }), 't - - [isola] x\n');
});
