// Runs an attack in a child process, so that one that kills or hangs its host (a fatal heap limit, a
// blocked thread) fails the test instead of taking the test runner with it.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../helpers/root.js';

export interface ChildResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Runs `body` (an ES module body) in a fresh Node with `Engine` and `IsolaError` imported from the
 * built library and `bytes` (a Uint8Array) defined. Killed after `timeoutMs`; `heapMb` caps V8's heap so
 * a heap attack dies fast instead of swapping the machine.
 */
export function runInChild(bytes: Uint8Array, body: string, opts: { timeoutMs?: number; heapMb?: number } = {}): ChildResult {
  const lib = pathToFileURL(fromRoot('dist', 'src', 'index.js')).href;
  const script = `import { Engine, IsolaError } from ${JSON.stringify(lib)};
const bytes = new Uint8Array(Buffer.from(${JSON.stringify(Buffer.from(bytes).toString('base64'))}, 'base64'));
${body}`;
  const r = spawnSync(process.execPath, [`--max-old-space-size=${opts.heapMb ?? 256}`, '--input-type=module', '-e', script], {
    encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A readable account of how a child ended, for assertion messages. */
export const describeChild = (r: ChildResult): string =>
  `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 1500)}`;
