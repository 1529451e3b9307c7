/** The WIT world a component's binary declares, printed by the Bytecode Alliance's wasm-tools (loaded on first use). */
import { IsolaError } from '../../errors.js';
import { bindgenReason } from './lift.js';

export async function componentWorld(bytes: Uint8Array): Promise<string> {
  const { componentWit } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  try {
    return await componentWit(bytes);
  } catch (e) {
    throw new IsolaError('INVALID', `component refused: ${bindgenReason(e)}`);
  }
}
