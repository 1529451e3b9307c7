// wasi:cli/run components (C guests made commands with the preview1 adapter) through the library and
// `isola run`: grants as for core modules, exit codes, and the preview 1 path attacks, now arriving as
// wasi:filesystem calls. Every file call reaches isola's one path resolver, so the same escapes fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../../src/index.js';
import { results, spawnIsola, tempDir, type GuestRun, type RunResult } from '../wasi/helpers.js';
import { makeSandbox } from '../wasi/sandbox.js';
import { componentFixture, runCommandComponent } from './helpers.js';

/** `isola run` of the command component, as a user types it. */
function viaCli(run: GuestRun): RunResult {
  const flags: string[] = [];
  for (const d of run.dirs ?? []) flags.push(d.readOnly ? '--dir-ro' : '--dir', `${d.host}::${d.guest}`);
  for (const [k, v] of Object.entries(run.env ?? {})) flags.push('--env', `${k}=${v}`);
  return spawnIsola(['run', ...flags, componentFixture(`cmd-${run.guest}`), ...(run.args ?? [])], { stdin: run.stdin, hostEnv: { ...process.env, ISOLA_TEST_SECRET: 'host-secret-value' } });
}
const RUNNERS: Array<[string, (r: GuestRun) => Promise<RunResult> | RunResult]> = [['library', (r) => runCommandComponent(r)], ['cli', viaCli]];

for (const [via, run] of RUNNERS) {
  test(`${via}: a command component prints, gets only the environment and arguments it was given, and exits with its code`, async () => {
    assert.deepEqual(await run({ guest: 'hello' }), { code: 0, stdout: 'hello, world\n', stderr: '' });
    process.env.ISOLA_TEST_SECRET = 'host-secret-value';
    try {
      const env = await run({ guest: 'env', args: ['a b', 'ü'], env: { GRANTED: 'yes' } });
      assert.equal(env.code, 0, env.stderr);
      assert.match(env.stdout, /^env: GRANTED=yes$/m);
      assert.match(env.stdout, /^arg 1: a b$/m);
      assert.match(env.stdout, /^arg 2: ü$/m);
      assert.doesNotMatch(env.stdout, /host-secret-value|PATH=|HOME=/);
    } finally {
      delete process.env.ISOLA_TEST_SECRET;
    }
    // wasi:cli/exit 0.2 carries ok or err only: the preview1 adapter turns exit(7) into err, exit code 1 (as in wasmtime).
    assert.equal((await run({ guest: 'exit7' })).code, 1);
  });

  test(`${via}: files: a granted directory reads and writes; nothing outside it is reachable; read-only refuses writes`, async () => {
    const tmp = tempDir('comp-files');
    try {
      mkdirSync(join(tmp.path, 'box'));
      writeFileSync(join(tmp.path, 'box', 'in.txt'), 'inside');
      writeFileSync(join(tmp.path, 'secret.txt'), 'SECRET');
      const r = await run({ guest: 'cat', args: ['/d/in.txt', '/d/../secret.txt', '/etc/passwd', `${tmp.path}/secret.txt`], dirs: [{ host: join(tmp.path, 'box'), guest: '/d' }] });
      const got = results(r.stdout);
      assert.equal(got.get('read /d/in.txt'), 'OK inside', r.stdout + r.stderr);
      for (const p of ['/d/../secret.txt', '/etc/passwd', `${tmp.path}/secret.txt`]) assert.match(got.get(`read ${p}`) ?? '', /^E[A-Z]+$/, `${p}: ${r.stdout}`);
      assert.doesNotMatch(r.stdout + r.stderr, /SECRET|root:/);
      const tree = await run({ guest: 'tree', args: ['/d'], dirs: [{ host: join(tmp.path, 'box'), guest: '/d', readOnly: true }] });
      assert.match(tree.stdout, /in\.txt \(6 bytes\)/, tree.stdout + tree.stderr);
    } finally {
      tmp.remove();
    }
  });

  test(`${via}: every path trick of paths.wasm fails through wasi:filesystem, and nothing leaks or changes outside`, async () => {
    const sb = makeSandbox();
    try {
      const r = await run({ guest: 'paths', args: [sb.secretPath], dirs: [{ host: sb.box, guest: '/sandbox' }] });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^done$/m);
      const got = results(r.stdout);
      for (const label of ['dotdot', 'absolute', 'absolute-secret', 'symlink-root', 'symlink-up', 'symlink-abs', 'chain-out', 'creat-through-symlink', 'rename-out', 'link-out-in', 'stat-out', 'subfd-dotdot-secret', 'sub-up-climb']) {
        assert.match(got.get(label) ?? '<missing>', /^E[A-Z]+$/, `${label}: ${got.get(label)}`);
      }
      assert.match(got.get('inside') ?? '', /^OK inside/);
      sb.assertNoLeak(r.stdout + r.stderr);
      sb.assertOutsideUntouched();
    } finally {
      sb.remove();
    }
  });
}

test('a trap in the command is a TRAP error after the output written before it (library); exit 1 with one line (cli)', async () => {
  await assert.rejects(runCommandComponent({ guest: 'trap' }), (e: unknown) => e instanceof IsolaError && e.code === 'TRAP');
  const r = viaCli({ guest: 'trap' });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'before trap\n');
  assert.match(r.stderr, /^error: wasm trap: unreachable/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('cli: limits apply to components (--fuel, --timeout) in every isolation; a non-command or --buffer is one usage line', () => {
  const spin = spawnIsola(['run', '--fuel', '100000', componentFixture('cmd-paths'), '/nonexistent']);
  assert.notEqual(spin.code, 0);
  const calc = spawnIsola(['run', componentFixture('calc')]);
  assert.equal(calc.code, 2);
  assert.match(calc.stderr, /^error: the component is not a command/);
  for (const isolation of ['inline', 'worker', 'process']) {
    const r = spawnIsola(['run', '--isolation', isolation, componentFixture('cmd-hello')]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'hello, world\n', ''], isolation);
    const t = spawnIsola(['run', '--isolation', isolation, '--timeout', '200ms', '--invoke', 'spin()', componentFixture('hostile')]);
    assert.deepEqual([t.code, t.stderr], [1, 'error: timed out after 200ms\n'], isolation);
  }
  const buffer = spawnIsola(['run', '--buffer', 'f', componentFixture('calc')]);
  assert.equal(buffer.code, 2);
  assert.match(buffer.stderr, /^error: --buffer is the core-module buffer ABI/);
});

test('cli: inspect prints the component\'s world in WIT, and --json its imports and exports with their types', () => {
  const text = spawnIsola(['inspect', componentFixture('calc')]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /WebAssembly component, 1018 bytes/);
  assert.match(text.stdout, /export add: func\(a: u32, b: u32\) -> u32;/);
  assert.match(text.stdout, /log: func\(msg: string\);/);
  type Surface = { functions: string[]; interfaces: Record<string, string[]> };
  const json = JSON.parse(spawnIsola(['inspect', '--json', componentFixture('cmd-hello')]).stdout) as { kind: string; wit: string; imports: Surface; exports: Surface };
  assert.equal(json.kind, 'component');
  assert.match(json.wit, /^world root \{/m);
  assert.ok(Object.keys(json.imports.interfaces).some((i) => /^wasi:cli\/stdout@0\.2\.\d+$/.test(i)));
  const run = Object.entries(json.exports.interfaces).find(([i]) => i.startsWith('wasi:cli/run@'));
  assert.deepEqual(run?.[1], ['run: func() -> result']);
});
