// Components compile to signed artifacts (`isola compile`): loaded with nothing lifted or instrumented again,
// by the library, `isola run` and every cell kind; an edited or foreign one is refused before any of it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, IsolaError } from '../../src/index.js';
import { spawnIsola, tempDir } from '../wasi/helpers.js';
import { componentBytes, componentFixture } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;

test('library: a component\'s artifact loads without the transpiler, keeps its instrumentation, and is refused under another key', async () => {
  const tmp = tempDir('comp-art');
  try {
    const engine = new Engine({ cacheDir: join(tmp.path, 'a') });
    const artifact = (await engine.compileComponent(componentBytes('hostile'), { fuel: true, maxMemoryBytes: 1 << 20 })).toArtifact();
    const loaded = new Engine({ cacheDir: join(tmp.path, 'a') }).loadComponentArtifact(artifact);
    const { exports } = loaded.instantiate({}, { fuel: 200_000 });
    assert.equal((exports.grow as () => number)(), 16, 'the memory cap came with it');
    assert.throws(() => (loaded.instantiate({}, { fuel: 200_000 }).exports.spin as () => void)(), isCode('FUEL'));
    assert.throws(() => new Engine({ cacheDir: join(tmp.path, 'b') }).loadComponentArtifact(artifact), (e: unknown) => isCode('ARTIFACT')(e) && /signature does not match/.test((e as Error).message));
  } finally {
    tmp.remove();
  }
});

test('cli: isola compile makes one; run (every isolation) and inspect take it; an edited one is refused', () => {
  const tmp = tempDir('comp-art-cli');
  try {
    const out = join(tmp.path, 'types.isolart');
    const env = { ...process.env, ISOLA_CACHE_DIR: join(tmp.path, 'cache') };
    const c = spawnIsola(['compile', '--fuel', componentFixture('types'), '-o', out], { hostEnv: env });
    assert.equal(c.code, 0, c.stderr);
    for (const iso of [[], ['--isolation', 'inline'], ['--isolation', 'worker'], ['--isolation', 'process']]) {
      const r = spawnIsola(['run', ...iso, '--fuel', '100000', '--invoke', 'echo-color(blue)', out], { hostEnv: env });
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'blue\n', ''], iso.join(' '));
    }
    const i = spawnIsola(['inspect', out], { hostEnv: env });
    assert.match(i.stdout, /^isola artifact of a component: fuel metering on, memory cap none$/m);
    assert.match(i.stdout, /^ {4}echo-color: func\(v: color\) -> color$/m);
    const again = spawnIsola(['compile', out, '-o', join(tmp.path, 'x')], { hostEnv: env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is already an isola artifact/);
    // One byte of the glue changed: refused before anything is read, let alone run.
    const bytes = readFileSync(out);
    const at = bytes.indexOf(Buffer.from('function instantiate'));
    assert.ok(at > 0);
    bytes[at] = 'F'.charCodeAt(0);
    writeFileSync(out, bytes);
    for (const iso of [[], ['--isolation', 'process']]) {
      const r = spawnIsola(['run', ...iso, '--invoke', 'add(1, 2)', out], { hostEnv: env });
      assert.equal(r.code, 1, iso.join(' '));
      assert.match(r.stderr, /^error: artifact rejected: its signature does not match this user's key/);
    }
  } finally {
    tmp.remove();
  }
});
