/**
 * `isola run --isolation inline|worker|process`: the same three modes as `isola run`, run in one cell
 * of that wall. The guest's stdout and stderr reach the terminal as the guest writes them (streamed out of
 * the cell), so what it printed before a trap, a timeout or the cell's death is shown before the error;
 * stdin is read whole up front (a cell gets bytes, never isola's descriptors).
 */
import { IsolaError } from '../errors.js';
import type { Limits } from '../engine/limits.js';
import { isArtifact } from '../engine/artifact-magic.js';
import { inspect } from '../wasm/inspect.js';
import { isComponentBinary } from '../wasm/component/header.js';
import { isComponentArtifact } from '../engine/component/component-artifact.js';
import type { InvokeRequest, InvokeResult, Isolation } from '../cells/types.js';
import { readStdin } from './read-input.js';
import { writeStdout } from './stdout.js';
import type { Grants } from './wasi-grants.js';

const ISOLATIONS: readonly Isolation[] = ['inline', 'worker', 'process'];
/** What the command line lets a guest print (the library's default is 16 MiB). */
const MAX_OUTPUT = 128 * 1024 * 1024;

export interface CellRun {
  file: string;
  args: string[];
  bytes: Uint8Array;
  isolation: string;
  invoke?: string;
  buffer?: string;
  limits: Limits;
  grants: Grants;
}

export async function runInCell(r: CellRun): Promise<number> {
  const isolation = r.isolation as Isolation;
  if (!ISOLATIONS.includes(isolation)) throw new IsolaError('USAGE', `--isolation '${r.isolation}': expected inline, worker or process`);
  const base = {
    env: r.grants.env, preopens: r.grants.preopens, maxOutputBytes: MAX_OUTPUT, limits: { fuel: r.limits.fuel, timeoutMs: r.limits.timeoutMs },
    onStdout: (chunk: Uint8Array) => writeStdout(chunk), onStderr: (chunk: Uint8Array) => process.stderr.write(chunk),
  };
  let req: Omit<InvokeRequest, 'module'>;
  if (r.invoke !== undefined) req = { ...base, kind: 'invoke', export: r.invoke, args: r.args };
  else if (r.buffer !== undefined) req = { ...base, kind: 'buffer', export: r.buffer, input: readStdin() };
  else {
    // a component (or its artifact): the cell says whether it is a command
    if (!isComponentBinary(r.bytes) && !isComponentArtifact(r.bytes)) checkCommand(r.file, r.bytes);
    req = { ...base, kind: 'wasi', args: [r.file, ...r.args], input: process.stdin.isTTY ? new Uint8Array(0) : readStdin() };
  }

  const { spawnCell } = await import('../cells/index.js');
  const cell = await spawnCell({ isolation, preopens: r.grants.preopens });
  // Stores the guest was granted (none: its store calls are access-denied, not a protocol error that kills the cell).
  const kv = await import('./run-kv.js').then((m) => m.localStores(r.grants.kv ?? new Map(), r.limits.timeoutMs));
  let res: InvokeResult;
  try {
    const module = await cell.load({ bytes: r.bytes, compile: {
      fuel: true, maxMemoryBytes: r.limits.maxMemoryBytes, maxTableElements: r.limits.maxTableElements, maxTotalTableElements: r.limits.maxTotalTableElements,
    } });
    res = await cell.invoke({ ...req, module, host: kv.host, kvStores: [...r.grants.kv?.keys() ?? []] });
  } finally {
    await cell.close();
    await kv.close();
  }
  if (res.output?.length) writeStdout(res.output); // --buffer: its output is the return value
  if (res.outputTruncated) process.stderr.write(`isola: the guest's output was cut at ${MAX_OUTPUT} bytes\n`);
  if (res.values?.length) writeStdout(`${res.values.join('\n')}\n`);
  return res.exitCode ?? 0;
}

/** The same refusal as the in-thread path gives a module without _start. */
function checkCommand(file: string, bytes: Uint8Array): void {
  if (isArtifact(bytes)) return;
  const info = inspect(bytes);
  if (info.exports.some((e) => e.name === '_start' && e.kind === 'func')) return;
  const funcs = info.exports.filter((e) => e.kind === 'func').map((e) => e.name);
  throw new IsolaError('USAGE', `${file} is not a WASI command (it exports no _start); `
    + (funcs.length ? `call one of its exports with --invoke NAME: ${funcs.join(', ')}` : 'it exports no functions'));
}
