/** `isola run` of a component: a wasi:cli/run command, with the same grants and limits as a core module. */
import { IsolaError } from '../errors.js';
import type { Limits } from '../engine/limits.js';
import type { Grants } from './wasi-grants.js';

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
  if (input.isolation !== undefined && input.isolation !== 'inline') {
    throw new IsolaError('USAGE', `components run inline for now (--isolation ${input.isolation} takes core modules only); drop --isolation or use --isolation inline`);
  }
  if (input.buffer !== undefined) throw new IsolaError('USAGE', '--buffer is the core-module buffer ABI; a component exports typed functions');
  if (input.invoke !== undefined) throw new IsolaError('USAGE', '--invoke does not call component exports yet; run a wasi:cli/run component as a command, or call its exports through the library (engine.compileComponent)');
  const { Engine } = await import('../engine/index.js');
  const fuel = limits.fuel !== undefined || limits.timeoutMs !== undefined;
  const compiled = await new Engine().compileComponent(bytes, {
    fuel, maxMemoryBytes: limits.maxMemoryBytes, maxTableElements: limits.maxTableElements, maxTotalTableElements: limits.maxTotalTableElements,
  });
  const { runComponentCommand } = await import('../capabilities/wasi-p2/index.js');
  return runComponentCommand(compiled, {
    args: [file, ...args], env: grants.env, preopens: grants.preopens, stdin: 'inherit', stdout: 'inherit', stderr: 'inherit',
  }, limits);
}
