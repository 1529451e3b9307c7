import { readFileSync } from 'node:fs';
import { IsolaError } from '../errors.js';

/** A module, artifact or stdin (`-`), as bytes; a missing or unreadable file is one clear error. */
export function readInputFile(path: string): Uint8Array {
  try {
    const bytes = readFileSync(path === '-' ? 0 : path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new IsolaError('IO', `cannot read ${path}: ${why}`);
  }
}

/** All of stdin. */
export function readStdin(): Uint8Array {
  return readInputFile('-');
}
