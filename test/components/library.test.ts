// Components through the library: a custom WIT world with a host interface the caller supplies, typed
// exports, one LINK error naming every missing import, and the lift cache (memory, signed disk entries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, IsolaError, WasiP2 } from '../../src/index.js';
import { readComponentTypes } from '../../src/wasm/component/read-types.js';
import { componentBytes, componentFixture, compileComponentFixture } from './helpers.js';
import { spawnIsola, tempDir } from '../wasi/helpers.js';
import { fromRoot } from '../helpers/root.js';
import { readFileSync } from 'node:fs';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;

test('a component\'s exports are typed functions; its imports are the host objects the caller gives', async () => {
  const calc = await compileComponentFixture('calc');
  assert.deepEqual(calc.imports, ['host']);
  assert.deepEqual(calc.exports.map(([n]) => n), ['add', 'greet']);
  const logged: string[] = [];
  const { exports } = calc.instantiate({ host: { log: (m: string) => logged.push(m) } });
  assert.equal((exports.add as (a: number, b: number) => number)(2, 40), 42);
  assert.equal((exports.greet as (s: string) => string)('wörld ✓'), 'wörld ✓');
  assert.deepEqual(logged, ['wörld ✓']);
  // u32 arguments wrap as the canonical ABI says: no silent NaN, no host crash
  assert.equal((exports.add as (a: number, b: number) => number)(0xffffffff, 2), 1);
});

test('missing imports are one LINK error that lists every one of them', async () => {
  const calc = await compileComponentFixture('calc');
  assert.throws(() => calc.instantiate({}), (e: unknown) => isCode('LINK')(e) && /host#log/.test((e as Error).message));
  assert.throws(() => calc.instantiate({ host: {} }), isCode('LINK'));
  const cat = await compileComponentFixture('cmd-cat');
  assert.throws(() => cat.instantiate({}), (e: unknown) => {
    const missing = (e as IsolaError).detail.missing as string[];
    return isCode('LINK')(e) && missing.includes('wasi:filesystem/preopens#getDirectories') && missing.includes('wasi:cli/exit#exit') && missing.length > 10;
  });
});

test('bad input: a core module, a truncated component, garbage: one clear error each', async () => {
  const engine = new Engine({ cacheDir: null });
  const core = readFileSync(fromRoot('test/fixtures/wasi/hello.wasm'));
  await assert.rejects(engine.compileComponent(core), (e: unknown) => isCode('COMPONENT')(e) && /core WebAssembly module, not a component/.test((e as Error).message));
  assert.throws(() => engine.compile(componentBytes('calc')), isCode('COMPONENT'));
  const calc = componentBytes('calc');
  for (const cut of [9, 40, calc.length - 3]) {
    await assert.rejects(engine.compileComponent(calc.subarray(0, cut)), (e: unknown) => isCode('INVALID')(e) && !(e as Error).message.includes('\n'), `cut at ${cut}`);
  }
  await assert.rejects(engine.compileComponent(new TextEncoder().encode('not wasm at all')), isCode('DECODE'));
});

test('the lift is cached: in memory, and on disk signed (a forged entry is never loaded)', async () => {
  const tmp = tempDir('lift-cache');
  try {
    const bytes = componentBytes('types');
    const engine = new Engine({ cacheDir: tmp.path });
    assert.equal(await engine.compileComponent(bytes), await engine.compileComponent(bytes), 'a memory hit the second time');
    const dir = join(tmp.path, 'components');
    const files = readdirSync(dir);
    assert.equal(files.length, 1, 'one signed entry on disk');
    // A new process reads the entry from disk; a forged one (not signed with this user's key) is lifted again.
    const env = { ...process.env, ISOLA_CACHE_DIR: tmp.path };
    const run = () => spawnIsola(['run', '--invoke', 'add(1, 2)', componentFixture('types')], { hostEnv: env });
    assert.equal(run().stdout, '3\n');
    // Glue that would print PWNED if it ever ran, under a MAC made without the key.
    const glue = 'export function instantiate() { process.stdout.write("PWNED"); return { add: () => 0 }; }';
    const header = JSON.stringify({ glue: Buffer.byteLength(glue), cores: [], imports: [], exports: [['add', 'function']] });
    const forged = Buffer.concat([Buffer.alloc(32, 7), Buffer.from(`isola-lifted-1\n${header}\n${glue}`)]);
    writeFileSync(join(dir, files[0]!), forged);
    const again = run();
    assert.deepEqual([again.code, again.stdout, again.stderr], [0, '3\n', '']);
    assert.notDeepEqual(readFileSync(join(dir, files[0]!)), forged, 'replaced by a signed entry');
  } finally {
    tmp.remove();
  }
});

test('WASI imports of any 0.2.x link: a component built against wasi:cli@0.2.0 gets isola\'s host', async () => {
  const c = await compileComponentFixture('old-wasi');
  assert.deepEqual(c.imports, ['wasi:cli/environment']);
  const wasi = new WasiP2({ args: ['prog', 'a', 'b'] });
  assert.equal((c.instantiate(wasi.imports).exports.countArgs as () => number)(), 3);
});

test('a type section that claims more than the bytes hold: one DECODE line from the type reader, one INVALID from the lift', async () => {
  // preamble, then section 7 (types) of 5 bytes claiming 2^32-1 entries
  const bytes = Uint8Array.of(0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 7, 5, 0xff, 0xff, 0xff, 0xff, 0x0f);
  assert.throws(() => readComponentTypes(bytes), (e: unknown) => isCode('DECODE')(e) && /types count 4294967295 exceeds/.test((e as Error).message));
  await assert.rejects(new Engine({ cacheDir: null }).compileComponent(bytes), (e: unknown) => isCode('INVALID')(e) && !(e as Error).message.includes('\n'));
});
