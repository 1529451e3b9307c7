// The C guests of the preview 1 suite, made commands with the Bytecode Alliance's preview1 adapter, against
// the same guests as core modules: the adapter turns each preview 1 call into WASI 0.2 calls, isola's
// WASI 0.2 host (wasi-p2/) makes them preview 1 calls again, and every path trick, read-only grant, stale
// descriptor and directory cookie must come out the same. (Where the adapter itself answers differently,
// e.g. exit codes, process clocks and its own descriptor limits, the guests are not compared.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, viaLibrary, type GuestRun } from '../wasi/helpers.js';
import { makeSandbox } from '../wasi/sandbox.js';
import { runCommandComponent } from './helpers.js';

interface Case { name: string; setup: (dir: string) => Omit<GuestRun, 'guest'> }

const CASES: Case[] = [
  { name: 'paths', setup: () => ({}) }, // set up by makeSandbox below
  { name: 'stale-dirfd', setup: () => ({}) },
  {
    name: 'rootops', setup: (dir) => {
      mkdirSync(join(dir, 'e'));
      writeFileSync(join(dir, 'f'), '');
      return { dirs: [{ host: dir, guest: '/' }] };
    },
  },
  {
    name: 'readdir', setup: (dir) => {
      for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), '');
      return { dirs: [{ host: dir, guest: '/' }] };
    },
  },
  {
    name: 'readonly', setup: (dir) => {
      writeFileSync(join(dir, 'existing.txt'), 'original\n');
      mkdirSync(join(dir, 'dir'));
      return { dirs: [{ host: dir, guest: '/ro', readOnly: true }] };
    },
  },
  {
    name: 'two-dirs', setup: (dir) => {
      mkdirSync(join(dir, 'ro', 'dir'), { recursive: true });
      mkdirSync(join(dir, 'rw'));
      writeFileSync(join(dir, 'ro', 'existing.txt'), 'original\n');
      return { dirs: [{ host: join(dir, 'ro'), guest: '/ro', readOnly: true }, { host: join(dir, 'rw'), guest: '/rw' }] };
    },
  },
  {
    name: 'tree', setup: (dir) => {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'a', 'b', 'c.txt'), 'ccc');
      return { args: ['/data'], dirs: [{ host: dir, guest: '/data' }] };
    },
  },
  { name: 'wc', setup: () => ({ stdin: 'one two\nthree\n' }) },
];

/** Runs one guest both ways, each in a fresh copy of its setting; `scrub` removes host paths from the output. */
async function both(c: Case): Promise<{ core: string; component: string }> {
  const outputs: string[] = [];
  for (const kind of ['core', 'component'] as const) {
    let run: GuestRun;
    let cleanup: () => void;
    let scrub = (s: string) => s;
    if (c.name === 'paths' || c.name === 'stale-dirfd') {
      const sb = makeSandbox();
      run = c.name === 'paths'
        ? { guest: c.name, args: [sb.secretPath], dirs: [{ host: sb.box, guest: '/sandbox' }] }
        : { guest: c.name, dirs: [{ host: sb.box, guest: '/' }] };
      scrub = (s) => s.split(sb.dir).join('<dir>');
      cleanup = () => sb.remove();
    } else {
      const tmp = tempDir(`p1diff-${c.name}`);
      run = { guest: c.name, ...c.setup(tmp.path) };
      cleanup = tmp.remove;
    }
    try {
      const r = kind === 'core' ? viaLibrary(run) : await runCommandComponent(run);
      // WASI 0.2 has no ENOTCAPABLE (preview 1's rights are gone): the adapter answers EPERM, as wasmtime does.
      outputs.push(`exit ${r.code}\n${scrub(r.stdout).replace(/ENOTCAPABLE/g, 'EPERM')}`);
    } finally {
      cleanup();
    }
  }
  return { core: outputs[0]!, component: outputs[1]! };
}

for (const c of CASES) {
  test(`${c.name}: the same answers through the preview1 adapter and isola's WASI 0.2 as through preview 1`, async () => {
    const { core, component } = await both(c);
    assert.equal(component, core);
  });
}
