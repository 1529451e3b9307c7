// The committed .wasm files must be what their sources build to
// (run `npm run build:examples` after editing a source), whatever else is installed (see helpers/rebuild.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../helpers/root.js';
import { hasClang, rebuild } from '../helpers/rebuild.js';
import { exampleBytes } from './support.js';

const sources = (ext: string): string[] => readdirSync(fromRoot('examples')).filter((f) => f.endsWith(ext));

test('every WAT example assembles to its committed .wasm', async () => {
  const { watToWasm } = (await import(pathToFileURL(fromRoot('scripts/examples-wat2wasm.mjs')).href)) as {
    watToWasm(source: string, filename: string): Promise<Uint8Array>;
  };
  for (const wat of sources('.wat')) {
    const built = await watToWasm(readFileSync(fromRoot('examples', wat), 'utf8'), wat);
    assert.deepEqual(built, exampleBytes(wat.replace(/\.wat$/, '.wasm')), `${wat} is stale: npm run build:examples`);
  }
});

test('every C example compiles to its committed .wasm', { skip: hasClang ? false : 'clang-14 not installed' }, () => {
  const out = mkdtempSync(join(tmpdir(), 'isola-examples-'));
  try {
    // Rebuild into a scratch copy of examples/ with the real script, then compare.
    const r = rebuild('build-examples.sh', 'ISOLA_EXAMPLES_OUT', out);
    assert.equal(r.status, 0, r.stderr);
    for (const c of sources('.c')) {
      const wasm = c.replace(/\.c$/, '.wasm');
      assert.deepEqual(new Uint8Array(readFileSync(join(out, wasm))), exampleBytes(wasm), `${c} is stale: npm run build:examples`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
