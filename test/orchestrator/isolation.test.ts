// Real jailed cells ('process'): hot swap under load, hostile functions (spin, trap, memory bomb,
// output flood) failing alone while a neighbour keeps answering, and grants (env, files) as given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { errorResponse } from '../../src/orchestrator/http-status.js';
import { openOrchestrator } from '../../src/orchestrator/orchestrator.js';
import type { InvocationRecord } from '../../src/orchestrator/types.js';
import { fromRoot } from '../helpers/root.js';
import { grantToJail } from '../helpers/jail-user.js';
import { cgi, request, spec, tempDir, text, never } from './helpers.js';
import { jailSupport } from '../../src/cells/jail/index.js';

/** Direct children of this process (cells are spawned from here: bwrap, or node for an unjailed cell). */
function children(): Set<number> {
  const out = new Set<number>();
  for (const task of readdirSync('/proc/self/task')) {
    for (const pid of readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (pid) out.add(Number(pid));
  }
  return out;
}

/** The jail's launcher execs bwrap (or unshare); an unjailed fallback cell is a worker thread, no child at all. */
const jailedCmd = (pid: number): boolean => {
  try {
    return /(^|\/)(bwrap|unshare)\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return false;
  }
};

/**
 * These tests look at a function's cells right after its deploy: functions that never scale to zero keep a warm
 * cell from their deploy on (the density tests cover scaling to zero and spares).
 */
const WARM_FOREVER = { idleTimeoutMs: 0, spareCells: 0 };

/** Tests of jailed cells are skipped, saying why, where no jail can be built (they would test fallback workers). */
const NEEDS_JAIL = jailSupport().process ? false : `this host cannot build the jail: ${jailSupport().reasons.join('; ')}`;

/** Asserts that deploying made jailed process cells, not fallback workers: new children, each bwrap/unshare. */
function expectJailedCells(before: Set<number>, what: string): void {
  const fresh = [...children()].filter((p) => !before.has(p));
  assert.ok(fresh.length > 0, `${what}: no cell process appeared (fell back to worker threads?)`);
  assert.ok(fresh.every(jailedCmd), `${what}: a new cell process is not jailed: ${fresh.map((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1').replaceAll('\0', ' ').slice(0, 80)).join(' | ')}`);
}


test('hot swap under load on process cells: no request dropped or failed', { timeout: 60_000, skip: NEEDS_JAIL }, async () => {
  const dir = tempDir('swap-process');
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: dir.path });
  try {
    const limits = { maxConcurrency: 4, maxQueue: 256 };
    const before = children();
    const a = await o.deploy(spec('app', { isolation: 'process', limits }), cgi('hello'));
    const b = await o.deploy(spec('app', { isolation: 'process', limits }), cgi('counter'));
    expectJailedCells(before, 'app');
    const seen = new Map<string, number>();
    const errors: string[] = [];
    let done = false;
    const client = async () => {
      while (!done) {
        try {
          const body = text((await o.handle('app', request(), never)).body);
          seen.set(body, (seen.get(body) ?? 0) + 1);
        } catch (e) {
          errors.push(String(e));
        }
      }
    };
    const clients = Array.from({ length: 6 }, client);
    for (let i = 0; i < 6; i++) {
      await o.activate('app', i % 2 === 0 ? a.id : b.id);
      await new Promise((r) => setTimeout(r, 100));
    }
    done = true;
    await Promise.all(clients);
    assert.deepEqual(errors, []);
    assert.deepEqual([...seen.keys()].sort(), ['1\n', 'hello from isola\n']);
  } finally {
    await o.close(2000);
    dir.remove();
  }
});

test('a spinning, trapping, memory-bombing or flooding function fails alone; its neighbour keeps answering', { timeout: 60_000, skip: NEEDS_JAIL }, async () => {
  const dir = tempDir('hostile');
  const records: InvocationRecord[] = [];
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: dir.path, defaultIsolation: 'process', onInvocation: (r) => records.push(r) });
  try {
    const hostile = { isolation: 'process' as const, limits: { timeoutMs: 400, maxMemoryBytes: 16 * 1024 ** 2, maxResponseBytes: 64 * 1024, maxConcurrency: 2 } };
    const before = children();
    await o.deploy(spec('hello', { isolation: 'process' }), cgi('hello'));
    for (const f of ['spin', 'trap', 'oom', 'bigout']) await o.deploy(spec(f, hostile), cgi(f));
    expectJailedCells(before, 'the hostile functions');
    await o.deploy(spec('fuel', { ...hostile, limits: { ...hostile.limits, fuel: 100_000 } }), cgi('spin'));
    const attacks = ['spin', 'spin', 'trap', 'oom', 'bigout', 'fuel'].map((f) => o.handle(f, request(), never).then(
      () => assert.fail(`${f} should fail`),
      (e: IsolaError) => [f, e.code, errorResponse(e).status, errorResponse(e).headers.find(([k]) => k === 'x-isola-error')![1]],
    ));
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(text((await o.handle('hello', request(), never)).body));
    assert.deepEqual(new Set(answers), new Set(['hello from isola\n']));
    const failures = await Promise.all(attacks);
    assert.deepEqual(failures, [
      ['spin', 'TIMEOUT', 504, 'timed out after 400ms'],
      ['spin', 'TIMEOUT', 504, 'timed out after 400ms'],
      ['trap', 'TRAP', 500, 'wasm trap: unreachable'],
      ['oom', 'TRAP', 500, 'wasm trap: unreachable'],
      ['bigout', 'BAD_RESPONSE', 500, 'response larger than max-response (64 KiB)'],
      ['fuel', 'FUEL', 500, failures[5]![3]],
    ]);
    assert.match(String(failures[5]![3]), /fuel exhausted/);
    const outcomes = Object.fromEntries(records.filter((r) => r.function !== 'hello').map((r) => [r.function, [r.outcome, r.detail, r.status]]));
    assert.deepEqual(outcomes, {
      spin: ['timeout', 'TIMEOUT', 504], trap: ['trap', 'unreachable', 500], oom: ['trap', 'unreachable', 500],
      bigout: ['error', 'BAD_RESPONSE', 500], fuel: ['fuel', 'FUEL', 500],
    });
    // Failed requests report the fuel their guest spent until it failed (it ran: never 0).
    for (const r of records) assert.ok(BigInt(r.fuel) > 0n, `${r.function} (${r.outcome}) reports fuel ${r.fuel}`);
    assert.equal(records.find((r) => r.function === 'fuel')!.fuel, '100000');
    // And after all that, each function still works for its next request.
    assert.equal(text((await o.handle('hello', request(), never)).body), 'hello from isola\n');
    await assert.rejects(o.handle('trap', request(), never), { code: 'TRAP' });
  } finally {
    await o.close(2000);
    dir.remove();
  }
});

test('grants: the guest sees only CGI variables and its env; files read-only or read-write as granted, nothing else', { timeout: 60_000, skip: NEEDS_JAIL }, async () => {
  const dir = tempDir('grants');
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: join(dir.path, 'data') });
  try {
    const ro = join(dir.path, 'ro');
    const rw = join(dir.path, 'rw');
    mkdirSync(ro);
    mkdirSync(rw);
    writeFileSync(join(ro, 'input.txt'), 'read me');
    grantToJail(ro, false, dir.path);
    grantToJail(rw, true);
    const files = (guest: string, readOnly: boolean, hostPath: string) => [{ hostPath, guestPath: guest, readOnly }];
    const before = children();
    await o.deploy(spec('env', { isolation: 'process', env: { GREETING: 'hi' } }), cgi('env'));
    await o.deploy(spec('reader', { isolation: 'process', files: files('/data', true, ro) }), cgi('files'));
    await o.deploy(spec('writer', { isolation: 'process', files: files('/out', false, rw), env: { FILES_DIR: '/out' } }), cgi('files'));
    await o.deploy(spec('denied', { isolation: 'process', files: files('/data', true, ro) }), cgi('files'));
    expectJailedCells(before, 'the granted functions');

    const env = text((await o.handle('env', request({ headers: { authorization: 'Bearer s3cret', 'x-a': '1' } }), never)).body).trim().split('\n');
    assert.equal(env[0], 'argv[0]=env');
    const names = env.slice(1).map((l) => l.slice(0, l.indexOf('='))).sort();
    assert.deepEqual(names, [
      'CONTENT_LENGTH', 'GATEWAY_INTERFACE', 'GREETING', 'HTTP_X_A', 'PATH_INFO', 'PATH_TRANSLATED', 'QUERY_STRING', 'REMOTE_ADDR', 'REMOTE_HOST',
      'REQUEST_METHOD', 'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'SERVER_SOFTWARE', 'X_FULL_URL', 'X_MATCHED_ROUTE', 'X_RAW_PATH_INFO',
    ]);
    assert.ok(!env.join('\n').includes('s3cret'), 'the authorization header is withheld');

    assert.equal(text((await o.handle('reader', request(), never)).body), 'read: read me\npasswd: hidden\n');
    const post = (body: string) => request({ method: 'POST', body: new TextEncoder().encode(body) });
    assert.equal(text((await o.handle('denied', post('nope'), never)).body), 'write: ERR Operation not permitted\npasswd: hidden\n');
    assert.equal(text((await o.handle('writer', post('written'), never)).body), 'write: OK\npasswd: hidden\n');
    assert.equal(readFileSync(join(rw, 'output.txt'), 'utf8'), 'written');
  } finally {
    await o.close(2000);
    dir.remove();
  }
});

test('a body above max-body is TOO_LARGE (413); a guest exiting non-zero is BAD_RESPONSE (500)', async () => {
  const dir = tempDir('limits');
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: dir.path });
  try {
    await o.deploy(spec('echo', { limits: { maxBodyBytes: 4 } }), cgi('echo'));
    const big = request({ method: 'POST', body: new Uint8Array(5) });
    await assert.rejects(o.handle('echo', big, never), (e: IsolaError) => e.code === 'TOO_LARGE' && errorResponse(e).status === 413);
    const echoed = text((await o.handle('echo', request({ method: 'POST', body: new TextEncoder().encode('abcd'), params: { id: '7' } }), never)).body);
    assert.match(echoed, /^method: POST\n/);
    assert.match(echoed, /\nX_PARAM_ID=7\n/);
    assert.match(echoed, /\nbody: abcd$/);
    await o.deploy(spec('exit7'), readFileSync(fromRoot('test/fixtures/wasi/exit7.wasm')));
    await assert.rejects(o.handle('exit7', request(), never),
      (e: IsolaError) => e.code === 'BAD_RESPONSE' && e.message === 'guest exited with status 7' && errorResponse(e).status === 500);
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('a cell killed mid-request fails that request alone (crash, 500); the function and its neighbour carry on', {
  timeout: 60_000, skip: NEEDS_JAIL,
}, async () => {
  const dir = tempDir('crash');
  const records: InvocationRecord[] = [];
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: dir.path, onInvocation: (r) => records.push(r) });
  try {
    const before = children();
    await o.deploy(spec('victim', { isolation: 'process', limits: { timeoutMs: 1500, maxConcurrency: 1 } }), cgi('spin'));
    expectJailedCells(before, 'victim');
    const victimCells = [...children()].filter((p) => !before.has(p));
    await o.deploy(spec('hello', { isolation: 'process' }), cgi('hello'));
    const running = o.handle('victim', request(), never);
    await new Promise((r) => setTimeout(r, 300));
    for (const pid of victimCells) process.kill(pid, 'SIGKILL');
    await assert.rejects(running, (e: IsolaError) => e.code === 'CELL_CRASHED' && errorResponse(e).status === 500);
    assert.deepEqual(records.map((r) => [r.function, r.outcome]), [['victim', 'crash']]);
    assert.equal(text((await o.handle('hello', request(), never)).body), 'hello from isola\n');
    // The victim's pool replaced its cell: its next request runs (and times out as a spinner should).
    await assert.rejects(o.handle('victim', request(), never), { code: 'TIMEOUT' });
  } finally {
    await o.close(2000);
    dir.remove();
  }
});

test('every wall (inline, worker, process) serves the same responses with a fresh instance per request', { timeout: 60_000 }, async () => {
  const dir = tempDir('walls');
  const o = await openOrchestrator({ ...WARM_FOREVER, dataDir: dir.path });
  try {
    for (const isolation of ['inline', 'worker', 'process'] as const) {
      await o.deploy(spec(`counter-${isolation}`, { isolation }), cgi('counter'));
      await o.deploy(spec(`status-${isolation}`, { isolation }), cgi('status'));
    }
    for (const isolation of ['inline', 'worker', 'process'] as const) {
      const counts = await Promise.all(Array.from({ length: 6 }, () => o.handle(`counter-${isolation}`, request(), never).then((r) => text(r.body))));
      assert.deepEqual(new Set(counts), new Set(['1\n']), isolation);
      const r = await o.handle(`status-${isolation}`, request(), never);
      assert.equal(r.status, 201, isolation);
      assert.deepEqual(r.headers, [['location', '/items/42'], ['x-custom', 'kept'], ['content-type', 'application/json']], isolation);
      assert.equal(text(r.body), '{"id":42}\n', isolation);
    }
  } finally {
    await o.close(2000);
    dir.remove();
  }
});
