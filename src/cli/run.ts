/**
 * `isola run`: a WASI command (`_start`), one export (`--invoke`), or the buffer ABI (`--buffer`).
 */
import { IsolaError } from '../errors.js';
import { importsWasi, inspect } from '../wasm/inspect.js';
import { isArtifact } from '../engine/artifact-magic.js';
import { CORE_KV_MODULE } from '../capabilities/keyvalue/guest/core-imports.js';
import { isComponentBinary } from '../wasm/component/header.js';
import { isComponentArtifact } from '../engine/component/component-artifact.js';
import type { CompiledModule } from '../engine/compiled-module.js';
import type { Instance } from '../engine/instance.js';
import type { Limits } from '../engine/limits.js';
import { limitsFromFlags, type LimitFlags } from './limit-options.js';
import { readInputFile, readStdin } from './read-input.js';
import { reporting } from './report-error.js';
import { writeStdout } from './stdout.js';
import { grantsFromFlags, type GrantFlags, type Grants } from './wasi-grants.js';

export interface RunFlags extends LimitFlags, GrantFlags {
  /** Run in a cell (inline, worker, process) instead of directly in this thread. */
  isolation?: string;
  invoke?: string;
  buffer?: string;
  backtrace?: boolean;
}

/** Whether a core module (not an artifact) imports isola:keyvalue (a byte search first: most modules are not read twice). */
function importsKeyValue(bytes: Uint8Array): boolean {
  if (isArtifact(bytes) || Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(CORE_KV_MODULE) < 0) return false;
  try {
    return inspect(bytes).imports.some((i) => i.module === CORE_KV_MODULE);
  } catch {
    return false; // not readable: compiling it says why
  }
}

export async function run(file: string, args: string[], flags: RunFlags): Promise<number> {
  const limits = limitsFromFlags(flags);
  const grants = grantsFromFlags(flags);
  if (flags.invoke !== undefined && flags.buffer !== undefined) throw new IsolaError('USAGE', '--invoke and --buffer cannot be combined');
  if (flags.buffer !== undefined && args.length) throw new IsolaError('USAGE', `--buffer takes its input on stdin, not as arguments (got ${args.join(' ')})`);
  reporting.backtrace = flags.backtrace === true || !!process.env.ISOLA_BACKTRACE && process.env.ISOLA_BACKTRACE !== '0';
  if (reporting.backtrace) Error.stackTraceLimit = 100;

  // Store calls cross a cell's capability channel: a guest granted stores runs in a worker cell unless told otherwise.
  const isolation = flags.isolation ?? (grants.kv === undefined ? undefined : 'worker');
  if (grants.kv !== undefined && isolation === 'inline') throw new IsolaError('USAGE', '--kv needs --isolation worker or process (an inline cell cannot wait for a store)');
  const bytes = readInputFile(file);
  if (isComponentBinary(bytes) || isComponentArtifact(bytes)) {
    const { runComponent } = await import('./run-component.js');
    return runComponent({ file, args, bytes, isolation, invoke: flags.invoke, buffer: flags.buffer, limits, grants });
  }
  if (grants.kv === undefined && importsKeyValue(bytes)) {
    throw new IsolaError('LINK', 'the module imports isola:keyvalue (key-value stores): grant one with --kv NAME[=PATH]');
  }
  if (isolation !== undefined) {
    const { runInCell } = await import('./run-in-cell.js');
    return runInCell({ file, args, bytes, isolation, invoke: flags.invoke, buffer: flags.buffer, limits, grants });
  }
  const compiled = await compile(bytes, limits);

  if (flags.invoke !== undefined) {
    const instance = await instantiate(compiled, file, grants, limits);
    const { invokeAsText } = await import('../engine/invoke-text.js');
    const values = invokeAsText(instance, flags.invoke, args);
    if (values.length) writeStdout(`${values.join('\n')}\n`);
    return 0;
  }
  if (flags.buffer !== undefined) {
    const input = readStdin();
    const instance = await instantiate(compiled, file, grants, limits);
    const { processBuffer } = await import('../engine/buffer-abi.js');
    writeStdout(processBuffer(instance, input, flags.buffer));
    return 0;
  }
  if (!compiled.info.exports.some((e) => e.name === '_start' && e.kind === 'func')) {
    const funcs = compiled.info.exports.filter((e) => e.kind === 'func').map((e) => e.name);
    throw new IsolaError('USAGE', `${file} is not a WASI command (it exports no _start); `
      + (funcs.length ? `call one of its exports with --invoke NAME: ${funcs.join(', ')}` : 'it exports no functions'));
  }
  const { runWasiCommand } = await import('../capabilities/wasi-p1/index.js');
  return runWasiCommand(compiled, {
    args: [file, ...args], env: grants.env, preopens: grants.preopens, stdin: 'inherit', stdout: 'inherit', stderr: 'inherit',
  }, limits);
}

/**
 * A module needs instrumentation only for limits; an artifact carries its own. Without either, the
 * plain compile path keeps the cache, artifact and instrumentation code out of start-up.
 */
async function compile(bytes: Uint8Array, limits: Limits): Promise<CompiledModule> {
  const { isArtifact } = await import('../engine/artifact-magic.js');
  const fuel = limits.fuel !== undefined || limits.timeoutMs !== undefined;
  const options = {
    fuel, maxMemoryBytes: limits.maxMemoryBytes, maxTableElements: limits.maxTableElements, maxTotalTableElements: limits.maxTotalTableElements,
  };
  if (!fuel && limits.maxMemoryBytes === undefined && !isArtifact(bytes)) {
    const { compileModule, inspectModule, needsRewrite, standaloneServices } = await import('../engine/compile-module.js');
    const { instrumentOptionsFor } = await import('../engine/limits.js');
    const info = inspectModule(bytes);
    const instrumentOptions = instrumentOptionsFor(options);
    // Only a table without a (small enough) maximum needs the rewriter here.
    if (needsRewrite(instrumentOptions, info)) await import('../engine/with-instrumentation.js');
    return compileModule({ bytes, info, options: instrumentOptions, cacheKey: null }, standaloneServices);
  }
  const { Engine } = await import('../engine/index.js');
  return new Engine().load(bytes, options);
}

/** An instance for --invoke/--buffer, with WASI (and a reactor's _initialize) when the module imports it. */
async function instantiate(compiled: CompiledModule, file: string, grants: Grants, limits: Limits): Promise<Instance> {
  if (!importsWasi(compiled.info)) return compiled.instantiate({}, limits);
  const { startWasiReactor } = await import('../capabilities/wasi-p1/index.js');
  const { instance } = startWasiReactor(compiled, {
    args: [file], env: grants.env, preopens: grants.preopens, stdin: 'inherit', stdout: 'inherit', stderr: 'inherit',
  }, limits);
  return instance; // the process ends after one call; its descriptors go with it
}
