// The configuration surface for density: `tenant` and `idle-timeout` in isola.toml and in a deploy's entry
// (one-line errors), both part of a version's identity; and the server-wide limits on functions and tenants:
// a deploy past them is CONFLICT (409) and changes nothing, a redeploy at the limit still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/errors.js';
import { parseFunctionEntry, parseManifest } from '../../src/orchestrator/manifest.js';
import { httpStatusFor } from '../../src/orchestrator/http-status.js';
import { openOrchestrator, type Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { checkServerLimits, DENSITY_DEFAULTS, tenantOf, type KnownFunction } from '../../src/orchestrator/server-limits.js';
import { versionIdOf } from '../../src/orchestrator/store.js';
import type { FunctionSpec } from '../../src/orchestrator/types.js';
import { cgi, fakePools, never, refusedManifest, request, spec, tempDir, text } from './helpers.js';

const HEAD = '[function.hello]\nsource = "hello.wasm"\nroute = "/hello"\n';

const refused = refusedManifest;

const one = (toml: string): FunctionSpec => parseManifest(toml, 'isola.toml', { baseDir: '/srv' })[0]!;

test('tenant and idle-timeout: a label and a duration (0 = never); absent, the spec has neither', () => {
  const s = one(`${HEAD}tenant = "acme"\nidle-timeout = "5m"\n`);
  assert.equal(s.tenant, 'acme');
  assert.equal(s.idleTimeoutMs, 300_000);
  for (const zero of ['0', '"0"', '"0s"', '"0ms"', '" 0 m "']) assert.equal(one(`${HEAD}idle-timeout = ${zero}\n`).idleTimeoutMs, 0, zero);
  assert.equal(one(`${HEAD}idle-timeout = "1.5s"\n`).idleTimeoutMs, 1500);
  assert.equal(one(`${HEAD}tenant = "a-1"\n`).tenant, 'a-1');
  assert.equal(one(`${HEAD}tenant = "${'a'.repeat(63)}"\n`).tenant, 'a'.repeat(63));
  const plain = one(HEAD);
  assert.ok(!('tenant' in plain) && !('idleTimeoutMs' in plain), 'absent keys stay absent (the version id of an old spec is unchanged)');
  assert.equal(tenantOf(plain), 'hello', "a function's own name is its tenant by default");
  assert.equal(tenantOf(one(`${HEAD}tenant = "acme"\n`)), 'acme');
});

test('a bad tenant label or idle-timeout is one line naming the file, the key and what was expected', () => {
  const label = "expected a tenant label of lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters";
  refused(`${HEAD}tenant = "Acme"`, `isola.toml: function.hello.tenant: ${label}, got "Acme"`);
  refused(`${HEAD}tenant = ""`, `isola.toml: function.hello.tenant: ${label}, got ""`);
  refused(`${HEAD}tenant = "${'a'.repeat(64)}"`, new RegExp(`function\\.hello\\.tenant: expected a tenant label .*, got "a{57}\\.\\.\\."$`));
  refused(`${HEAD}tenant = "../x"`, `isola.toml: function.hello.tenant: ${label}, got "../x"`);
  refused(`${HEAD}tenant = "a_b"`, /function\.hello\.tenant: expected a tenant label .*got "a_b"$/);
  refused(`${HEAD}tenant = "-a"`, /function\.hello\.tenant: expected a tenant label .*got "-a"$/);
  refused(`${HEAD}tenant = 7`, `isola.toml: function.hello.tenant: ${label}, got 7`);
  refused(`${HEAD}tenant = ["acme"]`, `isola.toml: function.hello.tenant: ${label}, got an array`);
  refused(`${HEAD}tenant = { name = "acme" }`, `isola.toml: function.hello.tenant: ${label}, got a table`);
  const idle = 'expected a duration with a unit like "5m", or 0 for never';
  refused(`${HEAD}idle-timeout = 300`, `isola.toml: function.hello.idle-timeout: ${idle}, got 300`);
  refused(`${HEAD}idle-timeout = "300"`, `isola.toml: function.hello.idle-timeout: ${idle}, got "300"`);
  refused(`${HEAD}idle-timeout = "soon"`, `isola.toml: function.hello.idle-timeout: ${idle}, got "soon"`);
  refused(`${HEAD}idle-timeout = "-5m"`, `isola.toml: function.hello.idle-timeout: ${idle}, got "-5m"`);
  refused(`${HEAD}idle-timeout = "1000h"`, /function\.hello\.idle-timeout: expected a duration .*got "1000h" \(must be greater than 0 and at most ~24 days\)$/);
  refused(`${HEAD}idle-timeout = true`, `isola.toml: function.hello.idle-timeout: ${idle}, got true`);
  refused(`${HEAD}idle-timeout = 0.5`, `isola.toml: function.hello.idle-timeout: ${idle}, got 0.5`);
});

test("a deploy's JSON entry takes the same keys with the same errors", () => {
  const opts = { where: 'manifest entry', source: 'forbidden' as const };
  const s = parseFunctionEntry('hello', { route: '/hello', tenant: 'acme', 'idle-timeout': 0 }, opts);
  assert.deepEqual([s.tenant, s.idleTimeoutMs], ['acme', 0]);
  assert.equal(parseFunctionEntry('hello', { route: '/hello', 'idle-timeout': '30s' }, opts).idleTimeoutMs, 30_000);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ tenant: 'Acme' }, /^manifest entry: function\.hello\.tenant: expected a tenant label .*, got "Acme"$/],
    [{ tenant: '' }, /^manifest entry: function\.hello\.tenant: expected a tenant label .*, got ""$/],
    [{ tenant: '../x' }, /^manifest entry: function\.hello\.tenant: expected a tenant label .*, got "\.\.\/x"$/],
    [{ tenant: null }, /^manifest entry: function\.hello\.tenant: expected a tenant label .*, got null$/],
    [{ tenant: 1 }, /^manifest entry: function\.hello\.tenant: expected a tenant label .*, got 1$/],
    [{ 'idle-timeout': -1 }, /^manifest entry: function\.hello\.idle-timeout: expected a duration .*, got -1$/],
    [{ 'idle-timeout': '5' }, /^manifest entry: function\.hello\.idle-timeout: expected a duration .*, got "5"$/],
    [{ idle_timeout: '5m' }, /^manifest entry: function\.hello: unknown key "idle_timeout" \(expected .*tenant, idle-timeout/],
  ];
  for (const [entry, message] of bad) {
    assert.throws(() => parseFunctionEntry('hello', { route: '/hello', ...entry }, opts), (e: unknown) => {
      assert.ok(e instanceof IsolaError && e.code === 'MANIFEST', String(e));
      assert.match(e.message, message);
      assert.equal(httpStatusFor(e), 400);
      return true;
    });
  }
});

test('tenant and idle-timeout are part of the version: another value is another version; an old spec hashes as before', () => {
  const bytes = cgi('hello');
  const base = spec('hello');
  const id = (s: FunctionSpec) => versionIdOf(bytes, s).id;
  assert.equal(id({ ...base, tenant: undefined, idleTimeoutMs: undefined }), id(base), 'absent fields do not change the id of stored specs');
  const ids = new Set([id(base), id({ ...base, tenant: 'acme' }), id({ ...base, tenant: 'other' }), id({ ...base, idleTimeoutMs: 0 }), id({ ...base, idleTimeoutMs: 60_000 })]);
  assert.equal(ids.size, 5);
});

// --- the server-wide limits ---------------------------------------------------------------------------

/** Known functions as the orchestrator holds them: name → its live spec. */
function known(...specs: FunctionSpec[]): Map<string, KnownFunction> {
  return new Map(specs.map((s) => [s.name, { live: { info: { spec: s } }, versions: [{ spec: s }] }]));
}

function conflict(fn: () => void, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof IsolaError, String(e));
    assert.equal(e.code, 'CONFLICT');
    assert.equal(e.message, message);
    assert.equal(httpStatusFor(e), 409);
    return true;
  });
}

const FUNCTIONS_FULL = (n: number) => `deploy: the server's limit of ${n} functions is reached (isola serve --max-functions)`;
const TENANTS_FULL = (n: number, t: string) => `deploy: the server's limit of ${n} tenants is reached, and "${t}" would be one more (isola serve --max-tenants)`;

test('checkServerLimits: new functions and new tenants count; redeploys, joining a tenant and moving out of a tenant of one do not', () => {
  assert.deepEqual(DENSITY_DEFAULTS, { idleTimeoutMs: 300_000, spareCells: 2, maxFunctions: 10_000, maxTenants: 10_000 });
  const a = spec('a');
  const b = { ...spec('b'), tenant: 'acme' };
  const fns = known(a, b); // tenants: a, acme
  const limits = { maxFunctions: 2, maxTenants: 2 };
  conflict(() => checkServerLimits(fns, spec('c'), limits), FUNCTIONS_FULL(2));
  checkServerLimits(fns, { ...a, env: { X: '1' } }, limits); // a redeploy is not a new function
  checkServerLimits(fns, { ...b, tenant: 'acme' }, limits);
  checkServerLimits(fns, { ...a, tenant: 'acme' }, limits); // joins a counted tenant
  checkServerLimits(fns, { ...a, tenant: 'new' }, limits); // a leaves its tenant of one: still 2
  conflict(() => checkServerLimits(known(a, b, { ...spec('c'), tenant: 'acme' }), { ...b, tenant: 'new' }, { maxTenants: 2 }), TENANTS_FULL(2, 'new'));
  conflict(() => checkServerLimits(fns, spec('c'), { maxTenants: 2 }), TENANTS_FULL(2, 'c'));
  checkServerLimits(fns, { ...spec('c'), tenant: 'acme' }, { maxTenants: 2 });
  checkServerLimits(fns, spec('c'), {}); // defaults: 10000 of each
  // Over a limit already (a restart with a lower one): what is there may be redeployed; nothing may be added.
  checkServerLimits(fns, a, { maxFunctions: 1, maxTenants: 1 });
  conflict(() => checkServerLimits(fns, { ...a, tenant: 'elsewhere' }, { maxTenants: 1 }), TENANTS_FULL(1, 'elsewhere'));
  // A function with stored versions but none live counts by its newest version.
  const stored = new Map<string, KnownFunction>([['s', { live: null, versions: [{ spec: { ...spec('s'), tenant: 'acme' } }] }], ...known(a)]);
  checkServerLimits(stored, { ...spec('c'), tenant: 'acme' }, { maxTenants: 2 });
  conflict(() => checkServerLimits(stored, spec('c'), { maxTenants: 2 }), TENANTS_FULL(2, 'c'));
});

test('checkServerLimits refuses a malformed tenant or idle timeout in a spec built by code', () => {
  const bad: Array<[Partial<FunctionSpec>, RegExp]> = [
    [{ tenant: 'Acme' }, /^deploy: function\.a\.tenant: bad tenant "Acme" \(expected lower-case/],
    [{ tenant: '' }, /^deploy: function\.a\.tenant: bad tenant ""/],
    [{ tenant: 7 as unknown as string }, /^deploy: function\.a\.tenant: expected a tenant label$/],
    [{ idleTimeoutMs: -1 }, /^deploy: function\.a\.idle-timeout: expected a duration/],
    [{ idleTimeoutMs: Number.NaN }, /^deploy: function\.a\.idle-timeout: expected a duration/],
  ];
  for (const [over, message] of bad) {
    assert.throws(() => checkServerLimits(new Map(), { ...spec('a'), ...over }), (e: unknown) => e instanceof IsolaError && e.code === 'MANIFEST' && message.test(e.message));
  }
});

async function withLimits(limits: { maxFunctions?: number; maxTenants?: number }, fn: (o: Orchestrator, dataDir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('limits');
  const pools = fakePools();
  const o = await openOrchestrator({ dataDir: dir.path, ...limits }, { createPool: pools.createPool });
  try {
    await fn(o, dir.path);
  } finally {
    await o.close(1000);
    dir.remove();
  }
}

const names = (o: Orchestrator) => o.list().map((f) => `${f.name}:${f.active}`);
const onDisk = (dataDir: string) => readdirSync(join(dataDir, 'functions')).filter((n) => !n.startsWith('.')).sort();
const body = async (o: Orchestrator, name: string) => text((await o.handle(name, request(), never)).body);

test('an orchestrator at its function limit refuses a new function (409, nothing changed) and still takes redeploys', async () => {
  await withLimits({ maxFunctions: 2, maxTenants: 2 }, async (o, dataDir) => {
    await o.deploy(spec('a'), cgi('hello'));
    await o.deploy({ ...spec('b'), tenant: 'a' }, cgi('hello'));
    const before = names(o);
    await assert.rejects(o.deploy(spec('c'), cgi('hello')), (e: unknown) => {
      assert.ok(e instanceof IsolaError && e.code === 'CONFLICT', String(e));
      assert.equal(e.message, FUNCTIONS_FULL(2));
      assert.equal(httpStatusFor(e), 409);
      return true;
    });
    await assert.rejects(o.deploy(spec('c'), cgi('hello'), { activate: false }), { code: 'CONFLICT' });
    assert.deepEqual(names(o), before);
    assert.deepEqual(onDisk(dataDir), ['a', 'b']);
    assert.equal(o.get('c'), undefined);
    assert.equal(await body(o, 'a'), 'hello from isola\n');
    assert.equal(await body(o, 'b'), 'hello from isola\n');
    // A redeploy at the limit: a new version of a, and b joining a's tenant explicitly.
    const v = await o.deploy({ ...spec('a'), env: { X: '1' }, idleTimeoutMs: 0 }, cgi('hello'));
    assert.equal(o.get('a')!.active, v.id);
    assert.equal(o.get('a')!.versions.length, 2);
    assert.equal(v.spec.idleTimeoutMs, 0);
    assert.equal(await body(o, 'a'), 'hello from isola\n');
    // Room again after a removal.
    await o.remove('b');
    await o.deploy(spec('c'), cgi('hello'));
    assert.deepEqual(o.list().map((f) => f.name), ['a', 'c']);
  });
});

test('an orchestrator at its tenant limit refuses a new tenant, also for a function that moves; joining one works', async () => {
  await withLimits({ maxTenants: 2 }, async (o, dataDir) => {
    await o.deploy(spec('a'), cgi('hello')); // tenant a
    await o.deploy({ ...spec('b'), tenant: 'acme' }, cgi('hello'));
    await o.deploy({ ...spec('c'), tenant: 'acme' }, cgi('hello')); // joins acme
    await o.deploy({ ...spec('d'), tenant: 'a' }, cgi('hello')); // joins a's own tenant
    const before = o.list();
    await assert.rejects(o.deploy(spec('e'), cgi('hello')), { code: 'CONFLICT', message: TENANTS_FULL(2, 'e') });
    await assert.rejects(o.deploy({ ...spec('e'), tenant: 'other' }, cgi('hello')), { code: 'CONFLICT', message: TENANTS_FULL(2, 'other') });
    // b moving out of acme (c stays there) would make a third tenant.
    await assert.rejects(o.deploy({ ...spec('b'), tenant: 'other' }, cgi('hello')), { code: 'CONFLICT', message: TENANTS_FULL(2, 'other') });
    assert.deepEqual(o.list(), before, 'nothing changed: no version stored, none activated');
    assert.deepEqual(onDisk(dataDir), ['a', 'b', 'c', 'd']);
    assert.equal(await body(o, 'b'), 'hello from isola\n');
    // Moves within the counted tenants work; so does a tenant of one moving to a new tenant (c leaves acme, b follows).
    await o.deploy({ ...spec('b'), tenant: 'a' }, cgi('hello'));
    await o.deploy({ ...spec('c'), tenant: 'other' }, cgi('hello'));
    assert.deepEqual(o.list().map((f) => f.versions[0]!.spec.tenant), [undefined, 'a', 'other', 'a']);
  });
});

test('tenants and idle timeouts survive a restart, and the limits count stored functions', async () => {
  const dir = tempDir('limits-restart');
  const pools = fakePools();
  try {
    const first = await openOrchestrator({ dataDir: dir.path }, { createPool: pools.createPool });
    await first.deploy({ ...spec('a'), tenant: 'acme', idleTimeoutMs: 60_000 }, cgi('hello'));
    await first.deploy(spec('b'), cgi('hello'));
    await first.close(1000);
    const again = await openOrchestrator({ dataDir: dir.path, maxFunctions: 3, maxTenants: 2 }, { createPool: pools.createPool });
    try {
      const a = again.get('a')!.versions[0]!.spec;
      assert.deepEqual([a.tenant, a.idleTimeoutMs], ['acme', 60_000]);
      assert.equal(again.get('b')!.versions[0]!.spec.tenant, undefined);
      await assert.rejects(again.deploy(spec('c'), cgi('hello')), { code: 'CONFLICT', message: TENANTS_FULL(2, 'c') });
      await again.deploy({ ...spec('c'), tenant: 'acme' }, cgi('hello'));
      await assert.rejects(again.deploy({ ...spec('d'), tenant: 'acme' }, cgi('hello')), { code: 'CONFLICT', message: FUNCTIONS_FULL(3) });
    } finally {
      await again.close(1000);
    }
  } finally {
    dir.remove();
  }
});
