/** `isola compile FILE -o OUT`: validate, instrument for the limits asked, write a signed artifact. */
import { writeFileSync } from 'node:fs';
import { IsolaError } from '../errors.js';
import { parseCount, parseSize } from '../engine/units.js';
import { readInputFile } from './read-input.js';

export interface CompileFlags { output: string; fuel?: boolean; maxMemory?: string; maxTableElements?: string }

export async function compileCommand(file: string, flags: CompileFlags): Promise<number> {
  const maxMemoryBytes = flags.maxMemory === undefined ? undefined : parseSize(flags.maxMemory, 'memory limit');
  const maxTableElements = flags.maxTableElements === undefined ? undefined : parseCount(flags.maxTableElements, 'table element limit');
  const bytes = readInputFile(file);
  const { Engine, isArtifact } = await import('../engine/index.js');
  if (isArtifact(bytes)) throw new IsolaError('USAGE', `${file} is already an isola artifact; compile the .wasm module it was made from`);
  const artifact = new Engine().compile(bytes, { fuel: flags.fuel === true, maxMemoryBytes, maxTableElements }).toArtifact();
  try {
    writeFileSync(flags.output, artifact);
  } catch (e) {
    throw new IsolaError('IO', `cannot write ${flags.output}: ${(e as Error).message}`);
  }
  return 0;
}
