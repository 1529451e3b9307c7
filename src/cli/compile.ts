/** `isola compile FILE -o OUT`: validate, instrument for the limits asked, write a signed artifact. */
import { writeFileSync } from 'node:fs';
import { IsolaError } from '../errors.js';
import { parseCount, parseSize } from '../engine/units.js';
import { readInputFile } from './read-input.js';
import { isComponentBinary } from '../wasm/component/header.js';

export interface CompileFlags { output: string; fuel?: boolean; maxMemory?: string; maxTableElements?: string }

export async function compileCommand(file: string, flags: CompileFlags): Promise<number> {
  const maxMemoryBytes = flags.maxMemory === undefined ? undefined : parseSize(flags.maxMemory, 'memory limit');
  const maxTableElements = flags.maxTableElements === undefined ? undefined : parseCount(flags.maxTableElements, 'table element limit');
  const bytes = readInputFile(file);
  const { Engine, isArtifact } = await import('../engine/index.js');
  const { isComponentArtifact } = await import('../engine/component/component-artifact.js');
  if (isArtifact(bytes) || isComponentArtifact(bytes)) throw new IsolaError('USAGE', `${file} is already an isola artifact; compile the .wasm file it was made from`);
  const options = { fuel: flags.fuel === true, maxMemoryBytes, maxTableElements };
  const engine = new Engine();
  const artifact = isComponentBinary(bytes) ? (await engine.compileComponent(bytes, options)).toArtifact() : engine.compile(bytes, options).toArtifact();
  try {
    writeFileSync(flags.output, artifact);
  } catch (e) {
    throw new IsolaError('IO', `cannot write ${flags.output}: ${(e as Error).message}`);
  }
  return 0;
}
