// Bench guests are kept as WAT and assembled at run time with the same wabt
// helper the examples use (scripts/examples-wat2wasm.mjs).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../support/project-root.js';

type WatToWasm = (source: string, filename: string) => Promise<Uint8Array>;
let helper: Promise<WatToWasm> | undefined;

export async function watToWasm(source: string, filename = 'bench.wat'): Promise<Uint8Array> {
  helper ??= import(pathToFileURL(fromRoot('scripts', 'examples-wat2wasm.mjs')).href).then((m) => m.watToWasm as WatToWasm);
  return (await helper)(source, filename);
}

/** Assembles bench/fixtures/NAME.wat into a scratch file and returns its path. */
export async function benchFixtureFile(name: string): Promise<string> {
  const wat = fromRoot('bench', 'fixtures', `${name}.wat`);
  const out = join(mkdtempSync(join(tmpdir(), 'isola-bench-')), `${name}.wasm`);
  writeFileSync(out, await watToWasm(readFileSync(wat, 'utf8'), wat));
  return out;
}
