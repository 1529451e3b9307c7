// V8's verdict on a module, as isola reports it: IsolaError('INVALID') with V8's reason.
import { IsolaError } from '../errors.js';
import { enableStandardFeatures } from './features.js';

/** The error for a module V8 rejected with `message`. */
export function invalidModule(message: string): IsolaError {
  return new IsolaError('INVALID', `invalid module: ${message.replace(/^WebAssembly\.Module\(\): /, '')}`);
}

/** Throws invalidModule(V8's reason) unless V8 validates `bytes`. */
export function checkValid(bytes: Uint8Array): void {
  enableStandardFeatures();
  if (WebAssembly.validate(bytes)) return;
  try {
    new WebAssembly.Module(bytes);
  } catch (e) {
    throw invalidModule((e as Error).message);
  }
  throw invalidModule('rejected by WebAssembly.validate');
}
