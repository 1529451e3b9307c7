// The version store: content-addressed, idempotent, atomic (no half-written files), survives reopening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VersionStore, canonicalJson, versionIdOf } from '../../src/orchestrator/store.js';
import { cgi, spec, tempDir } from './helpers.js';

test('canonical JSON ignores key order and undefined; ids depend on bytes and spec, not on source', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
  const s = spec('hello');
  const a = versionIdOf(cgi('hello'), s);
  assert.match(a.id, /^[0-9a-f]{16}$/);
  assert.match(a.moduleSha256, /^[0-9a-f]{64}$/);
  assert.equal(versionIdOf(cgi('hello'), { ...s, source: '/elsewhere/hello.wasm' }).id, a.id);
  assert.notEqual(versionIdOf(cgi('hello'), { ...s, env: { A: 'b' } }).id, a.id);
  assert.notEqual(versionIdOf(cgi('counter'), s).id, a.id);
  assert.equal(versionIdOf(cgi('counter'), s).moduleSha256, versionIdOf(cgi('counter'), spec('other')).moduleSha256);
});

test('put stores bytes and info once per content; a reopened store sees the same versions and state', () => {
  const dir = tempDir('store');
  try {
    const store = new VersionStore(dir.path);
    const v1 = store.put({ ...spec('hello'), source: '/x/hello.wasm' }, cgi('hello'));
    assert.equal(v1.size, cgi('hello').length);
    assert.equal(v1.spec.source, undefined, 'the source path is not part of a version');
    assert.deepEqual(store.put(spec('hello'), cgi('hello')), v1, 'same content → same version, not rewritten');
    const v2 = store.put(spec('hello'), cgi('counter'));
    store.writeState('hello', { active: v2.id, history: [v1.id] });
    const again = new VersionStore(dir.path);
    assert.deepEqual(again.names(), ['hello']);
    assert.deepEqual(again.state('hello'), { active: v2.id, history: [v1.id] });
    assert.deepEqual(new Set(again.versions('hello').map((v) => v.id)), new Set([v1.id, v2.id]));
    assert.deepEqual(again.moduleBytes('hello', v1.id), Buffer.from(cgi('hello')));
    const fnDir = join(dir.path, 'functions', 'hello');
    assert.deepEqual(readdirSync(fnDir).sort(), ['state.json', 'versions'], 'no temporary files are left behind');
    assert.deepEqual(readdirSync(join(fnDir, 'versions')).sort(), [v1.id, v2.id].sort());
    assert.equal(statSync(join(fnDir, 'state.json')).mode & 0o077, 0, 'state is private to the user');
  } finally {
    dir.remove();
  }
});

test('a function without a state file is not listed; crash leftovers are swept; remove deletes everything', () => {
  const dir = tempDir('store');
  try {
    const store = new VersionStore(dir.path);
    store.put(spec('orphan'), cgi('hello')); // stored, but its deploy never wrote a state
    const v = store.put(spec('hello'), cgi('hello'));
    store.writeState('hello', { active: v.id, history: [] });
    const versions = join(dir.path, 'functions', 'hello', 'versions');
    mkdirSync(join(versions, '.tmp-abc'));
    writeFileSync(join(dir.path, 'functions', 'hello', '.tmp-def'), '{"active":');
    mkdirSync(join(dir.path, 'functions', '.removed-x-123'));
    assert.deepEqual(store.names(), ['hello']);
    assert.deepEqual(store.versions('hello').map((x) => x.id), [v.id], 'a half-built version directory is ignored');
    store.sweep();
    assert.ok(!existsSync(join(versions, '.tmp-abc')));
    assert.ok(!existsSync(join(dir.path, 'functions', 'hello', '.tmp-def')));
    assert.ok(!existsSync(join(dir.path, 'functions', '.removed-x-123')));
    assert.equal(JSON.parse(readFileSync(join(dir.path, 'functions', 'hello', 'state.json'), 'utf8')).active, v.id);
    const extra = store.put(spec('hello'), cgi('counter'));
    store.removeVersion('hello', extra.id);
    assert.deepEqual(readdirSync(versions), [v.id]);
    store.remove('hello');
    assert.ok(!existsSync(join(dir.path, 'functions', 'hello')));
    assert.deepEqual(store.names(), []);
    store.remove('hello'); // idempotent
  } finally {
    dir.remove();
  }
});

test('a damaged state file is one clear IO error, not a stack trace', () => {
  const dir = tempDir('store');
  try {
    const store = new VersionStore(dir.path);
    store.writeState('f', { active: null, history: [] });
    writeFileSync(join(dir.path, 'functions', 'f', 'state.json'), '{"active": ');
    assert.throws(() => store.state('f'), { code: 'IO', message: /^unreadable state of function f \(.*state\.json\): / });
    writeFileSync(join(dir.path, 'functions', 'f', 'state.json'), '{"active": 3, "history": ["a", 4]}');
    assert.deepEqual(store.state('f'), { active: null, history: ['a'] });
  } finally {
    dir.remove();
  }
});

test('history is bounded', () => {
  const dir = tempDir('store');
  try {
    const store = new VersionStore(dir.path);
    store.writeState('f', { active: 'x', history: Array.from({ length: 250 }, (_, i) => `v${i}`) });
    const h = store.state('f').history;
    assert.equal(h.length, 100);
    assert.equal(h.at(-1), 'v249');
  } finally {
    dir.remove();
  }
});

test('a failing write leaves no partial version and no temporary files', () => {
  const dir = tempDir('store');
  try {
    const store = new VersionStore(dir.path);
    const { id } = versionIdOf(cgi('hello'), spec('hello'));
    const versions = join(dir.path, 'functions', 'hello', 'versions');
    mkdirSync(versions, { recursive: true });
    writeFileSync(join(versions, id), 'in the way'); // the final rename cannot replace a file with a directory
    assert.throws(() => store.put(spec('hello'), cgi('hello')), { code: 'IO', message: new RegExp(`^cannot store version ${id} of hello: `) });
    assert.deepEqual(readdirSync(versions), [id], 'the temporary directory was removed');
    assert.deepEqual(store.versions('hello'), []);
  } finally {
    dir.remove();
  }
});

test('a process killed while writing state leaves the old state or the new one, never a torn file', async () => {
  const dir = tempDir('store');
  try {
    const storeModule = new URL('../../src/orchestrator/store.js', import.meta.url).href;
    // The child rewrites the state as fast as it can; each state is internally consistent (active = last history entry + 1).
    const script = `
      import { VersionStore } from ${JSON.stringify(storeModule)};
      const store = new VersionStore(${JSON.stringify(dir.path)});
      for (let i = 1; ; i++) {
        const history = Array.from({ length: i % 100 }, (_, k) => 'v' + k);
        store.writeState('f', { active: 'v' + (i % 100), history });
        if (i === 1) process.send('started');
      }`;
    // A plain (non-atomic) rewrite is caught torn in about a third of such rounds; ten rounds make a miss unlikely.
    for (let round = 0; round < 10; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      await new Promise((r) => setTimeout(r, 30 + round * 11));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const state = new VersionStore(dir.path).state('f');
      assert.equal(state.active, `v${state.history.length}`, 'a consistent state');
    }
  } finally {
    dir.remove();
  }
});
