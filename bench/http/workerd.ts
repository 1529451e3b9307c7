// Baseline (b): Cloudflare's workerd (npm `workerd`) serving the same hello from an ES-module
// worker: the fetch handler instantiates fixtures/hello-memory.wat afresh per request (as isola
// does), calls `hello()` and answers with the bytes it wrote. Config and modules go to a temp dir.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../test/helpers/root.js';
import { watToWasm } from '../wat.js';
import { startChild, waitReady, type Child } from './servers.js';

const WORKER = `import hello from './hello.wasm';
const headers = { 'content-type': 'text/plain' };
export default {
  async fetch() {
    const { exports } = new WebAssembly.Instance(hello, {});
    const len = exports.hello();
    return new Response(new Uint8Array(exports.memory.buffer, 0, len).slice(), { headers });
  },
};
`;

const config = (port: number): string => `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .helloWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const helloWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "hello.wasm", wasm = embed "hello.wasm"),
  ],
  compatibilityDate = "2024-09-01",
);
`;

// workerd is not a devDependency: its package lists binaries for every platform as optional
// dependencies, the registry this project is built from holds only Linux's, and `npm ci` then refuses
// the lock file. The bench installs the pinned version on first use into bench/.tools (git-ignored).
const WORKERD_VERSION = '1.20261117.1';
const TOOLS = fromRoot('bench', '.tools');

function workerdBinary(): string {
  const bin = join(TOOLS, 'node_modules', '.bin', 'workerd');
  if (existsSync(bin)) return bin;
  console.error(`bench:http: installing workerd@${WORKERD_VERSION} into bench/.tools (first run only)`);
  const r = spawnSync('npm', ['install', '--prefix', TOOLS, '--no-save', '--no-audit', '--no-fund', `workerd@${WORKERD_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install workerd@${WORKERD_VERSION} (npm exit ${r.status})`);
  return bin;
}

export async function startWorkerd(port: number): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-workerd-'));
  const wat = fromRoot('bench', 'http', 'fixtures', 'hello-memory.wat');
  writeFileSync(join(dir, 'hello.wasm'), await watToWasm(readFileSync(wat, 'utf8'), wat));
  writeFileSync(join(dir, 'worker.js'), WORKER);
  writeFileSync(join(dir, 'config.capnp'), config(port));
  const child = startChild(workerdBinary(), ['serve', join(dir, 'config.capnp')], { cwd: dir });
  await waitReady(child, `http://127.0.0.1:${port}/`, 'hello\n');
  return child;
}
