// Tenants, scale to zero and warm spares with real jailed cells: functions of one tenant share cells, two
// tenants never do (checked on the cell processes themselves); idle functions leave their cells and the cells
// close; a cold start takes a warm spare; hot swap and removal work on shared cells; a function with file
// grants never gets a spare (it spawns a jail that mounts them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openOrchestrator, type Orchestrator } from '../../src/orchestrator/orchestrator.js';
import type { SharedCellPool } from '../../src/cells/index.js';
import type { SpawnedCell } from '../../src/cells/spawn.js';
import { jailSupport } from '../../src/cells/jail/index.js';
import { grantToJail } from '../helpers/jail-user.js';
import { until } from '../helpers/until.js';
import { cgi, never, request, spec, tempDir, text } from './helpers.js';

const NEEDS_JAIL = jailSupport().process ? false : `this host cannot build the jail: ${jailSupport().reasons.join('; ')}`;

const body = async (o: Orchestrator, name: string): Promise<string> => text((await o.handle(name, request(), never)).body);
const tenant = (o: Orchestrator, name: string) => o.tenants().find((t) => t.tenant === name)!;

/** The agent pids of every cell, by tenant (from the orchestrator's pools: what the tests check against the OS). */
function cellPids(o: Orchestrator): Map<string, Set<number>> {
  const pools = (o as unknown as { pools: { pools: Map<string, { share: string; pool: SharedCellPool }> } }).pools.pools;
  const out = new Map<string, Set<number>>();
  for (const { share, pool } of pools.values()) {
    const set = out.get(share) ?? new Set<number>();
    for (const s of (pool as unknown as { slots: Array<{ cell: SpawnedCell }> }).slots) set.add(s.cell.agentPid!);
    out.set(share, set);
  }
  return out;
}

test('one tenant shares its cells, two tenants never do; idle functions scale to zero; a cold start takes a spare', {
  timeout: 90_000, skip: NEEDS_JAIL,
}, async () => {
  const dir = tempDir('tenants');
  const o = await openOrchestrator({ dataDir: dir.path, defaultIsolation: 'process', idleTimeoutMs: 1500, spareCells: 1 });
  try {
    await o.sparesReady();
    await o.deploy(spec('a-hello', { tenant: 'acme', isolation: 'process' }), cgi('hello'));
    await o.deploy(spec('a-count', { tenant: 'acme', isolation: 'process' }), cgi('counter'));
    await o.deploy(spec('b-hello', { tenant: 'other', isolation: 'process' }), cgi('hello'));
    assert.equal(o.tenants().reduce((n, t) => n + t.cells, 0), 0, 'a deploy starts no cell for a function that scales to zero');

    for (let i = 0; i < 3; i++) {
      assert.equal(await body(o, 'a-hello'), 'hello from isola\n');
      assert.equal(await body(o, 'a-count'), '1\n');
      assert.equal(await body(o, 'b-hello'), 'hello from isola\n');
    }
    const acme = tenant(o, 'acme');
    assert.equal(acme.functions, 2);
    assert.equal(acme.cells, 1, 'sequential requests of two functions of one tenant: one cell');
    assert.equal(acme.modulesLoaded, 2);
    assert.equal(acme.coldStarts, 2);
    assert.equal(tenant(o, 'other').cells, 1);
    const pids = cellPids(o);
    const [a, b] = [pids.get('acme')!, pids.get('other')!];
    assert.ok(a.size > 0 && b.size > 0);
    for (const pid of a) assert.ok(!b.has(pid), `cell ${pid} serves two tenants`);
    assert.ok(acme.fromSpares + tenant(o, 'other').fromSpares >= 1, 'a cold start took the spare');

    // Idle past the timeout: every cell closes; the functions stay deployed and start cold on their next request.
    await until(() => o.tenants().every((t) => t.cells === 0), 'every tenant scaled to zero', 15_000);
    for (const [, set] of pids) for (const pid of set) await until(() => !processExists(pid), `cell ${pid} exited`, 10_000);
    assert.ok(tenant(o, 'acme').scaledDown >= 1);
    await o.sparesReady();
    const t0 = performance.now();
    assert.equal(await body(o, 'a-count'), '1\n');
    const coldMs = performance.now() - t0;
    assert.equal(tenant(o, 'acme').coldStarts, 3);
    assert.ok(coldMs < 2000, `cold start with a spare took ${coldMs.toFixed(0)} ms`);
    assert.equal(o.get('a-count')!.tenant, 'acme');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('hot swap, rollback and removal on shared cells: the old module leaves every cell', { timeout: 60_000, skip: NEEDS_JAIL }, async () => {
  const dir = tempDir('tenant-swap');
  const o = await openOrchestrator({ dataDir: dir.path, defaultIsolation: 'process', spareCells: 0 }, { retainMs: 100 });
  try {
    await o.deploy(spec('one', { tenant: 't', isolation: 'process' }), cgi('hello'));
    await o.deploy(spec('two', { tenant: 't', isolation: 'process' }), cgi('env'));
    assert.equal(await body(o, 'one'), 'hello from isola\n');
    await body(o, 'two');
    assert.equal(tenant(o, 't').modulesLoaded, 2);
    const cellsBefore = cellPids(o).get('t')!;

    await o.deploy(spec('one', { tenant: 't', isolation: 'process' }), cgi('counter')); // hot swap: into the tenant's warm cell
    assert.equal(await body(o, 'one'), '1\n');
    assert.deepEqual(cellPids(o).get('t'), cellsBefore, 'the new version runs in the same cell');
    // The version switched away from stays loaded for its retain time, then leaves.
    await until(() => tenant(o, 't').modulesLoaded === 2, 'the old version of "one" left the cell', 5000);
    assert.equal((await o.rollback('one')).spec.name, 'one');
    assert.equal(await body(o, 'one'), 'hello from isola\n');

    await o.remove('two');
    await until(() => tenant(o, 't').modulesLoaded === 1, '"two" left the cell', 5000);
    assert.equal(await body(o, 'one'), 'hello from isola\n');
    await o.remove('one');
    assert.equal(o.tenants().length, 0, 'the tenant went with its last function');
    await until(() => cellPids(o).size === 0, 'its cells closed', 5000);
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('a function with file grants never takes a spare: its cell is a jail that mounts exactly its grants', { timeout: 60_000, skip: NEEDS_JAIL }, async () => {
  const dir = tempDir('tenant-files');
  const o = await openOrchestrator({ dataDir: join(dir.path, 'data'), defaultIsolation: 'process', spareCells: 1 });
  try {
    const ro = join(dir.path, 'ro');
    mkdirSync(ro);
    writeFileSync(join(ro, 'input.txt'), 'read me');
    grantToJail(ro, false, dir.path);
    await o.sparesReady();
    await o.deploy(spec('reader', { tenant: 'acme', isolation: 'process', files: [{ hostPath: ro, guestPath: '/data', readOnly: true }] }), cgi('files'));
    await o.deploy(spec('plain', { tenant: 'acme', isolation: 'process' }), cgi('hello'));
    const read = await o.handle('reader', request(), never);
    assert.equal(read.status, 200, text(read.body));
    assert.match(text(read.body), /read me/);
    assert.equal(o.spares()!.taken, 0, 'the function with grants spawned its own cell');
    assert.equal(await body(o, 'plain'), 'hello from isola\n');
    assert.equal(o.spares()!.taken, 1, 'the plain one took the spare');
    assert.equal(tenant(o, 'acme').cells, 2, 'same tenant, different mounts: two cells');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});
