// Deploy, activate, roll back, remove, restart: the registry's behaviour on real (inline) cells, and
// that a failed deploy changes nothing, in memory or on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { openOrchestrator, type Orchestrator } from '../../src/orchestrator/orchestrator.js';
import type { InvocationRecord } from '../../src/orchestrator/types.js';
import { wat } from '../engine/wat.js';
import { cgi, request, spec, tempDir, text, never } from './helpers.js';


async function body(o: Orchestrator, name: string): Promise<string> {
  return text((await o.handle(name, request(), never)).body);
}

/** Every file under dir with its size and content hash-ish (bytes), to compare disk states. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(join(dir, 'functions'));
  return out;
}

/** A command whose body stores an i64 into an i32 local: decodes fine, fails validation. */
function typeError(): Uint8Array {
  const bytes = wat('(module (func (export "_start") (local i32) i32.const 7 local.set 0))');
  const at = bytes.findIndex((b, i) => b === 0x41 && bytes[i + 1] === 7 && bytes[i + 2] === 0x21);
  bytes[at] = 0x42; // i32.const → i64.const
  return bytes;
}

async function withOrchestrator(fn: (o: Orchestrator, dataDir: string, records: InvocationRecord[]) => Promise<void>): Promise<void> {
  const dir = tempDir('lifecycle');
  const records: InvocationRecord[] = [];
  const o = await openOrchestrator({ dataDir: dir.path, onInvocation: (r) => records.push(r) });
  try {
    await fn(o, dir.path, records);
  } finally {
    await o.close(1000);
    dir.remove();
  }
}

test('deploy serves the function; list/get/routes describe it; the audit record says what ran', async () => {
  await withOrchestrator(async (o, _dir, records) => {
    const phases: string[] = [];
    const v = await o.deploy(spec('hello', { env: { GREETING: 'hi' } }), cgi('hello'), { onProgress: (p) => phases.push(p) });
    assert.deepEqual(phases, ['validating', 'starting', 'storing', 'active']);
    assert.match(v.id, /^[0-9a-f]{16}$/);
    assert.equal(v.size, cgi('hello').length);
    assert.ok(!Number.isNaN(Date.parse(v.createdAt)));
    const r = await o.handle('hello', request({ headers: { 'x-request-id': 'req-1' } }), never);
    assert.equal(r.status, 200);
    assert.equal(text(r.body), 'hello from isola\n');
    assert.deepEqual(o.routes(), [{ route: '/hello', name: 'hello' }]);
    const s = o.get('hello')!;
    assert.equal(s.active, v.id);
    assert.deepEqual(s.versions.map((x) => x.id), [v.id]);
    assert.equal(s.pool!.cells >= 1, true);
    assert.deepEqual(o.list().map((f) => f.name), ['hello']);
    assert.equal(records.length, 1);
    const rec = records[0]!;
    assert.deepEqual({ ...rec, durationMs: 0, startedAt: '' }, {
      function: 'hello', version: v.id, requestId: 'req-1', startedAt: '', durationMs: 0, fuel: rec.fuel,
      outcome: 'ok', status: 200, grantsUsed: ['env:GREETING'],
    });
    assert.ok(BigInt(rec.fuel) > 0n, 'fuel spent is recorded');
    await assert.rejects(o.handle('nope', request(), never), { code: 'NOT_FOUND' });
  });
});

test('a fresh instance per request: the counter guest answers 1 every time', async () => {
  await withOrchestrator(async (o) => {
    await o.deploy(spec('counter'), cgi('counter'));
    const answers = await Promise.all(Array.from({ length: 20 }, () => body(o, 'counter')));
    assert.deepEqual(new Set(answers), new Set(['1\n']));
  });
});

test('versions: redeploying the same content is a no-op; activate, rollback and remove', async () => {
  await withOrchestrator(async (o, dataDir) => {
    const v1 = await o.deploy(spec('app'), cgi('hello'));
    assert.equal((await o.deploy(spec('app'), cgi('hello'))).id, v1.id);
    assert.equal(o.get('app')!.versions.length, 1);
    const v2 = await o.deploy(spec('app'), cgi('counter'));
    assert.notEqual(v2.id, v1.id);
    assert.equal(await body(o, 'app'), '1\n');
    assert.deepEqual(o.get('app')!.versions.map((v) => v.id).sort(), [v1.id, v2.id].sort());

    assert.equal((await o.rollback('app')).id, v1.id);
    assert.equal(o.get('app')!.active, v1.id);
    assert.equal(await body(o, 'app'), 'hello from isola\n');
    await assert.rejects(o.rollback('app'), { code: 'NOT_FOUND', message: 'function app has no earlier version to roll back to' });

    await o.activate('app', v2.id);
    assert.equal(await body(o, 'app'), '1\n');
    await o.activate('app', v2.id); // already active: nothing happens
    await assert.rejects(o.activate('app', 'ffffffffffffffff'), { code: 'NOT_FOUND', message: 'function app has no version ffffffffffffffff' });
    await assert.rejects(o.activate('ghost', v1.id), { code: 'NOT_FOUND' });
    assert.equal((await o.rollback('app')).id, v1.id);

    const stored = await o.deploy(spec('app', { env: { X: '1' } }), cgi('counter'), { activate: false });
    assert.equal(o.get('app')!.active, v1.id, 'activate: false stores without switching');
    assert.equal(await body(o, 'app'), 'hello from isola\n');
    await o.activate('app', stored.id);
    assert.equal(await body(o, 'app'), '1\n');

    await o.remove('app');
    assert.equal(o.get('app'), undefined);
    assert.deepEqual(o.routes(), []);
    await assert.rejects(o.handle('app', request(), never), { code: 'NOT_FOUND' });
    assert.ok(!existsSync(join(dataDir, 'functions', 'app')));
    await assert.rejects(o.remove('app'), { code: 'NOT_FOUND' });
  });
});

test('a failed deploy changes nothing: bad bytes, not a command, a component, memory above the cap, missing imports, a taken route', async () => {
  await withOrchestrator(async (o, dataDir) => {
    await o.deploy(spec('app'), cgi('hello'));
    await o.deploy(spec('other', { route: '/other/:id' }), cgi('counter'));
    const before = { list: JSON.stringify(o.list().map((f) => ({ ...f, pool: undefined }))), disk: snapshot(dataDir) };
    const component = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    const cases: Array<[string, Uint8Array, string, RegExp, ReturnType<typeof spec>?]> = [
      ['garbage', new TextEncoder().encode('#!/bin/sh\necho hi\n'), 'DECODE', /./],
      ['empty', new Uint8Array(0), 'DECODE', /empty/],
      ['truncated', cgi('hello').subarray(0, 100), 'DECODE', /./],
      ['reactor', wat('(module (func (export "f")))'), 'INVALID', /not a WASI command \(it must export _start\)/],
      ['bad _start', wat('(module (func (export "_start") (result i32) i32.const 1))'), 'INVALID', /_start has type \(\) -> i32; a WASI command's _start takes and returns nothing/],
      ['does not validate', typeError(), 'INVALID', /^invalid module: Compiling function #0 failed/],
      ['component (inline: wasi:http needs a cell)', component, 'INVALID', /worker or process cell/],
      ['big memory', wat('(module (memory 100) (func (export "_start")))'), 'MEMORY_LIMIT', /above the cap/, spec('app', { limits: { maxMemoryBytes: 65536 } })],
      ['missing import', wat('(module (import "env" "nope" (func)) (func (export "_start") call 0))'), 'LINK', /nope/],
      ['taken route', cgi('counter'), 'CONFLICT', /route \/other\/:x is already served by function other/, spec('app', { route: '/other/:x' })],
    ];
    for (const [what, bytes, code, message, s] of cases) {
      await assert.rejects(o.deploy(s ?? spec('app'), bytes), (e: unknown) => {
        assert.ok(e instanceof IsolaError, `${what}: ${String(e)}`);
        assert.equal(e.code, code, `${what}: ${e.message}`);
        assert.match(e.message, message, what);
        return true;
      });
      assert.equal(JSON.stringify(o.list().map((f) => ({ ...f, pool: undefined }))), before.list, `${what}: registry unchanged`);
      assert.deepEqual(snapshot(dataDir), before.disk, `${what}: disk unchanged`);
      assert.equal(await body(o, 'app'), 'hello from isola\n', `${what}: the live version still serves`);
    }
    // A new function whose deploy fails leaves no trace either.
    await assert.rejects(o.deploy(spec('fresh'), wat('(module)')), { code: 'INVALID' });
    assert.equal(o.get('fresh'), undefined);
    assert.ok(!existsSync(join(dataDir, 'functions', 'fresh')));
    await assert.rejects(o.deploy(spec('Bad Name'), cgi('hello')), { code: 'MANIFEST' });
    await assert.rejects(o.deploy(spec('x', { route: 'nope' }), cgi('hello')), { code: 'MANIFEST' });
  });
});

test('a restart comes back with the same functions, active versions and rollback history', async () => {
  const dir = tempDir('restart');
  try {
    const o1 = await openOrchestrator({ dataDir: dir.path });
    const a1 = await o1.deploy(spec('a'), cgi('hello'));
    const a2 = await o1.deploy(spec('a'), cgi('counter'));
    await o1.deploy(spec('b', { route: '/b/...' }), cgi('nohdr'));
    const stored = await o1.deploy(spec('c'), cgi('hello'), { activate: false });
    const listed = o1.list().map((f) => ({ ...f, pool: undefined }));
    await o1.close(1000);
    await assert.rejects(o1.handle('a', request(), never), { code: 'CELL_CLOSED' });

    const o2 = await openOrchestrator({ dataDir: dir.path });
    try {
      assert.deepEqual(o2.list().map((f) => ({ ...f, pool: undefined })), listed);
      assert.equal(o2.get('a')!.active, a2.id);
      assert.equal(o2.get('c')!.active, null);
      assert.deepEqual(o2.routes().sort((x, y) => (x.name < y.name ? -1 : 1)), [{ route: '/a', name: 'a' }, { route: '/b/...', name: 'b' }]);
      assert.equal(await body(o2, 'a'), '1\n');
      assert.equal(await body(o2, 'b'), 'just a body, no headers\nsecond line\n');
      await assert.rejects(o2.handle('c', request(), never), { code: 'NOT_FOUND' });
      assert.equal((await o2.rollback('a')).id, a1.id);
      assert.equal(await body(o2, 'a'), 'hello from isola\n');
      await o2.activate('c', stored.id);
      assert.equal(await body(o2, 'c'), 'hello from isola\n');
    } finally {
      await o2.close(1000);
    }
  } finally {
    dir.remove();
  }
});

test('two functions deployed at once on the same route: one wins, the other gets CONFLICT', async () => {
  await withOrchestrator(async (o) => {
    const results = await Promise.allSettled([o.deploy(spec('one', { route: '/same' }), cgi('hello')), o.deploy(spec('two', { route: '/same' }), cgi('counter'))]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((failed.reason as IsolaError).code, 'CONFLICT');
    assert.equal(o.routes().length, 1);
    assert.equal(o.list().length, 1, 'the loser left nothing behind');
  });
});
