/**
 * Lifted components on disk, signed with the engine's key (the glue is code: an entry someone else wrote
 * is never loaded), one file per content key. Best effort, like the module cache: a damaged or foreign
 * entry costs a new lift.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningKey } from '../signing-key.js';
import type { Lifted } from './lift.js';

const MAGIC = 'isola-lifted-1\n';
const MAC_BYTES = 32;

interface Header { glue: number; cores: Array<[string, number]>; imports: string[]; exports: Lifted['exports'] }

export function encodeLifted(l: Lifted, key: SigningKey): Uint8Array {
  const glue = Buffer.from(l.glue, 'utf8');
  const header: Header = { glue: glue.length, cores: [...l.cores].map(([n, b]) => [n, b.length]), imports: l.imports, exports: l.exports };
  const head = Buffer.from(JSON.stringify(header) + '\n', 'utf8');
  const body = Buffer.concat([Buffer.from(MAGIC), head, glue, ...l.cores.values()]);
  return Buffer.concat([key.mac(body), body]);
}

/** null unless the bytes are an entry this key signed. */
export function decodeLifted(bytes: Uint8Array, key: SigningKey): Lifted | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAC_BYTES + MAGIC.length) return null;
  const body = buf.subarray(MAC_BYTES);
  if (!key.verify(body, buf.subarray(0, MAC_BYTES))) return null;
  if (body.subarray(0, MAGIC.length).toString('utf8') !== MAGIC) return null;
  const nl = body.indexOf(10, MAGIC.length);
  const header = JSON.parse(body.subarray(MAGIC.length, nl).toString('utf8')) as Header;
  let at = nl + 1;
  const glue = body.subarray(at, (at += header.glue)).toString('utf8');
  const cores = new Map<string, Uint8Array>();
  for (const [name, len] of header.cores) cores.set(name, new Uint8Array(body.subarray(at, (at += len))));
  return { glue, cores, imports: header.imports, exports: header.exports };
}

export class LiftCache {
  private readonly dir: string;
  constructor(cacheDir: string, private readonly key: SigningKey) {
    this.dir = join(cacheDir, 'components');
  }

  /** Whether an entry exists (not whether it is valid: get() checks that). */
  has(cacheKey: string): boolean {
    return existsSync(join(this.dir, `${cacheKey}.isolalift`));
  }

  get(cacheKey: string): Lifted | null {
    try {
      return decodeLifted(readFileSync(join(this.dir, `${cacheKey}.isolalift`)), this.key);
    } catch {
      return null;
    }
  }

  put(cacheKey: string, l: Lifted): void {
    try {
      if (!this.key.usable()) return;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const target = join(this.dir, `${cacheKey}.isolalift`);
      const tmp = `${target}.${process.pid}.tmp`;
      writeFileSync(tmp, encodeLifted(l, this.key), { mode: 0o600 });
      renameSync(tmp, target);
    } catch {
      // read-only home, full disk, …: the in-memory cache still works
    }
  }
}
