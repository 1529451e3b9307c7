/**
 * The per-user secret that signs artifacts and disk-cache entries (HMAC-SHA256).
 *
 * Why: an artifact says "these bytes were instrumented with fuel metering and a memory cap". If
 * anyone could write one, a module that is NOT metered could be passed off as metered and run
 * without limits. Only code running as this user (who can read the key) can make an artifact
 * this user's isola will load. Consequence: artifacts are not portable between users or machines,
 * and deleting the cache directory invalidates them (recompile with `isola compile`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../errors.js';
import { nodeCrypto } from './lazy-builtins.js';

const KEY_FILE = 'artifact-signing.key';
const KEY_BYTES = 32;
export const MAC_BYTES = 32;

export class SigningKey {
  private key: Buffer | null = null;

  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, KEY_FILE);
  }

  /** The key, created (0600, in a 0700 directory) on first use. Throws IsolaError('IO') if neither possible. */
  private load(): Buffer {
    if (this.key) return this.key;
    try {
      this.key = this.read() ?? this.create();
    } catch (e) {
      if (e instanceof IsolaError) throw e;
      throw new IsolaError('IO', `cannot read or create the artifact signing key ${this.path}: ${(e as Error).message}`);
    }
    return this.key;
  }

  private read(): Buffer | null {
    try {
      const k = readFileSync(this.path);
      if (k.length !== KEY_BYTES) throw new IsolaError('IO', `the artifact signing key ${this.path} is damaged (delete it; artifacts must then be recompiled)`);
      return k;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  private create(): Buffer {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const k = nodeCrypto().randomBytes(KEY_BYTES);
    try {
      writeFileSync(this.path, k, { mode: 0o600, flag: 'wx' });
      return k;
    } catch (e) {
      // Another process created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return this.read()!;
      throw e;
    }
  }

  mac(data: Uint8Array): Buffer {
    return nodeCrypto().createHmac('sha256', this.load()).update(data).digest();
  }

  verify(data: Uint8Array, mac: Uint8Array): boolean {
    return mac.length === MAC_BYTES && nodeCrypto().timingSafeEqual(this.mac(data), mac);
  }

  /** Whether a key exists or can be made, without throwing (for the best-effort disk cache). */
  usable(): boolean {
    try {
      this.load();
      return true;
    } catch {
      return false;
    }
  }
}
