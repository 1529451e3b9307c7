// Baseline (b): Cloudflare's workerd (npm `workerd`) serving the same hello from an ES-module
// worker: the fetch handler instantiates the hello afresh per request (as isola does), calls `hello()`
// and answers with the bytes it wrote. At `/` each instance gets a new memory (fixtures/hello-memory.wat);
// at `/reuse` a recycled one, zeroed after the previous request (fixtures/hello-import-memory.wat): the
// same work as isola's cells, which recycle zeroed memories. Config and modules go to a temp dir.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../support/project-root.js';
import { watToWasm } from '../wat.js';
import { startChild, waitReady, type Child } from './servers.js';

const WORKER = `import hello from './hello.wasm';
import helloImport from './hello-import.wasm';
const headers = { 'content-type': 'text/plain' };
const free = [];
export default {
  async fetch(request) {
    if (new URL(request.url).pathname === '/reuse') {
      const memory = free.pop() ?? new WebAssembly.Memory({ initial: 1, maximum: 1 });
      try {
        const { exports } = new WebAssembly.Instance(helloImport, { env: { memory } });
        const len = exports.hello();
        return new Response(new Uint8Array(memory.buffer, 0, len).slice(), { headers });
      } finally {
        new Uint8Array(memory.buffer).fill(0);
        free.push(memory);
      }
    }
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
    (name = "hello-import.wasm", wasm = embed "hello-import.wasm"),
  ],
  compatibilityDate = "2024-09-01",
);
`;

// workerd is not a devDependency: its package lists binaries for every platform as optional
// dependencies, the registry this project is built from holds only Linux's, and `npm ci` then refuses
// the lock file. The bench installs the pinned version on first use into bench/.tools (git-ignored).
const WORKERD_VERSION = '1.20261117.1';
const TOOLS = fromRoot('bench', '.tools');

const WORKERD_BIN = join(TOOLS, 'node_modules', '.bin', 'workerd');

/** The version the installed workerd reports, or why there is none. */
export function workerdVersion(): string {
  if (!existsSync(WORKERD_BIN)) return `workerd not installed (bench:http installs ${WORKERD_VERSION})`;
  const r = spawnSync(WORKERD_BIN, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').split('\n')[0]!.trim() || `workerd ${WORKERD_VERSION}`;
}

function workerdBinary(): string {
  const bin = WORKERD_BIN;
  if (existsSync(bin)) return bin;
  console.error(`bench:http: installing workerd@${WORKERD_VERSION} into bench/.tools (first run only)`);
  const r = spawnSync('npm', ['install', '--prefix', TOOLS, '--no-save', '--no-audit', '--no-fund', `workerd@${WORKERD_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`could not install workerd@${WORKERD_VERSION} (npm exit ${r.status})`);
  return bin;
}

export async function startWorkerd(port: number): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-workerd-'));
  for (const [name, file] of [['hello', 'hello-memory'], ['hello-import', 'hello-import-memory']]) {
    const wat = fromRoot('bench', 'http', 'fixtures', `${file}.wat`);
    writeFileSync(join(dir, `${name}.wasm`), await watToWasm(readFileSync(wat, 'utf8'), wat));
  }
  writeFileSync(join(dir, 'worker.js'), WORKER);
  writeFileSync(join(dir, 'config.capnp'), config(port));
  const child = startChild(workerdBinary(), ['serve', join(dir, 'config.capnp')], { cwd: dir });
  await waitReady(child, `http://127.0.0.1:${port}/`, 'hello\n');
  return child;
}
