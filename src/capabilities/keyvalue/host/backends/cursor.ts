// Listing cursors are opaque to guests: a backend's position (a last key, a SCAN cursor) as base64url text.
// Decoding checks the text is one this module could have made, so a forged or mangled cursor is 'invalid'.
import { KvBackendError } from './types.js';

export function encodeCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const bytes = Buffer.from(cursor, 'base64url');
  const position = bytes.toString('utf8');
  if (cursor === '' || bytes.toString('base64url') !== cursor || Buffer.byteLength(position) !== bytes.length) {
    throw new KvBackendError('invalid', 'not a cursor of this listing');
  }
  return position;
}
