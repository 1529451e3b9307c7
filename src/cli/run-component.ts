/** `isola run` of a component: a wasi:cli/run command, with the same grants and limits as a core module. */
import { IsolaError } from '../errors.js';
import type { Limits } from '../engine/limits.js';
import type { Grants } from './wasi-grants.js';
import { writeStdout } from './stdout.js';

export interface RunComponentInput {
  file: string;
  args: string[];
  bytes: Uint8Array;
  isolation: string | undefined;
  invoke: string | undefined;
  buffer: string | undefined;
  limits: Limits;
  grants: Grants;
}

export async function runComponent(input: RunComponentInput): Promise<number> {
  const { file, args, bytes, limits, grants } = input;
  if (input.buffer !== undefined) throw new IsolaError('USAGE', '--buffer is the core-module buffer ABI; a component exports typed functions (call one with --invoke)');
  if (input.invoke !== undefined && args.length > 0) throw invokeArgsError(input.invoke, args);
  if (input.isolation !== undefined) {
    const { runInCell } = await import('./run-in-cell.js');
    return runInCell({ file, args, bytes, isolation: input.isolation, invoke: input.invoke, limits, grants });
  }
  const { Engine } = await import('../engine/index.js');
  const fuel = limits.fuel !== undefined || limits.timeoutMs !== undefined;
  const { isComponentArtifact } = await import('../engine/component/component-artifact.js');
  const engine = new Engine();
  const compiled = isComponentArtifact(bytes) ? engine.loadComponentArtifact(bytes) : await engine.compileComponent(bytes, {
    fuel, maxMemoryBytes: limits.maxMemoryBytes, maxTableElements: limits.maxTableElements, maxTotalTableElements: limits.maxTotalTableElements,
  });
  const wasiOptions = { args: [file, ...args], env: grants.env, preopens: grants.preopens, stdin: 'inherit' as const, stdout: 'inherit' as const, stderr: 'inherit' as const };
  if (input.invoke !== undefined) {
    if (compiled.types === null) throw new IsolaError('USAGE', 'isola cannot read this component\'s export types (it uses component model async or threads), so --invoke cannot type the call');
    const { WasiP2 } = await import('../capabilities/wasi-p2/index.js');
    const { invokeWave } = await import('../engine/component/invoke-wave.js');
    const wasi = new WasiP2(wasiOptions);
    wasi.setTimeout(limits.timeoutMs);
    try {
      const instance = compiled.instantiate(wasi.imports, limits);
      const text = invokeWave(compiled.types.exports, instance.exports, input.invoke);
      if (text !== null) writeStdout(`${text}\n`);
      return 0;
    } finally {
      wasi.close();
    }
  }
  const { runComponentCommand } = await import('../capabilities/wasi-p2/index.js');
  return runComponentCommand(compiled, wasiOptions, limits);
}

/** A component's --invoke takes its arguments inside the call, in WAVE. */
function invokeArgsError(call: string, args: string[]): IsolaError {
  return new IsolaError('USAGE', `--invoke takes a component's arguments inside the call, in WAVE (like --invoke 'add(1, 2)'), not after the file: got ${JSON.stringify(call)} and ${args.join(' ')}`);
}
