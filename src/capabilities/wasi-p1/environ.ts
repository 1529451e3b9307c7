/**
 * The environment as WASI hands it to a guest: `NAME=VALUE` strings, each ended by a NUL, back to back.
 * One home for building and checking that form: the WASI layer (from `env` or an encoded `environ`) and the
 * cell protocol (which carries the block as it is) both use it.
 */
import { IsolaError } from '../../errors.js';

/** An environment already encoded: `count` strings `NAME=VALUE`, each ended by a NUL, back to back. */
export interface EnvironBlock {
  count: number;
  bytes: Uint8Array;
}

/** Joins `env` (own properties) into `NAME=VALUE\0` text. A name cannot hold '=' or NUL, a value no NUL (WASI could not pass them). */
export function joinEnviron(env: Record<string, string>): { count: number; joined: string } {
  let joined = '';
  const names = Object.keys(env);
  for (const name of names) {
    const value = env[name]!;
    if (name.includes('=') || name.includes('\0') || value.includes('\0')) {
      throw new IsolaError('USAGE', `invalid environment variable ${JSON.stringify(name)}: a name cannot hold '=' or NUL, a value no NUL`);
    }
    joined += `${name}=${value}\0`;
  }
  return { count: names.length, joined };
}

/** How many `NAME=VALUE\0` strings `bytes` holds; -1 if it is not such a block (a string without '=', or no final NUL). */
export function environStrings(bytes: Uint8Array): number {
  let strings = 0;
  let named = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x3d) named = true;
    else if (b === 0) {
      if (!named) return -1;
      strings++;
      named = false;
    }
  }
  return bytes.length > 0 && bytes[bytes.length - 1] !== 0 ? -1 : strings;
}

/** `block` itself if it holds exactly the `count` NAME=VALUE strings it declares; otherwise a USAGE error (the caller's mistake). */
export function checkedEnviron(block: EnvironBlock): EnvironBlock {
  if (environStrings(block.bytes) !== block.count) {
    throw new IsolaError('USAGE', `invalid encoded environment: expected ${block.count} NAME=VALUE strings, each ended by a NUL`);
  }
  return block;
}
