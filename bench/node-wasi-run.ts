// The baseline for the `isola run hello.wasm` start-up row: the least a Node
// script needs to run a WASI command through `node:wasi`.
//   node dist/bench/node-wasi-run.js FILE.wasm [ARGS...]
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node-wasi-run.js FILE.wasm [ARGS...]\n');
  process.exit(2);
}
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, returnOnExit: true });
const module = new WebAssembly.Module(readFileSync(file));
const instance = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
process.exitCode = wasi.start(instance);
