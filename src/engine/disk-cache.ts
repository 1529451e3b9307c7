/**
 * The on-disk half of the compile cache: instrumented bytes, signed, one file per cache key.
 * Best effort throughout: an unwritable or damaged cache directory costs a recompile, never a run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeArtifact, encodeArtifact, type ArtifactPayload } from './artifact.js';
import type { SigningKey } from './signing-key.js';

export class DiskCache {
  private readonly dir: string;

  constructor(cacheDir: string, private readonly key: SigningKey) {
    this.dir = join(cacheDir, 'modules');
  }

  private file(cacheKey: string): string {
    return join(this.dir, `${cacheKey}.isolart`);
  }

  get(cacheKey: string): ArtifactPayload | null {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.file(cacheKey));
    } catch {
      return null;
    }
    try {
      const p = decodeArtifact(bytes, this.key);
      return p.cacheKey === cacheKey ? p : null;
    } catch {
      return null; // stale (other isola version), foreign or damaged: recompile and overwrite
    }
  }

  put(payload: ArtifactPayload): void {
    try {
      if (!this.key.usable()) return;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const target = this.file(payload.cacheKey);
      const tmp = `${target}.${process.pid}.tmp`;
      writeFileSync(tmp, encodeArtifact({ ...payload, original: null }, this.key), { mode: 0o600 });
      renameSync(tmp, target); // atomic: readers never see half a file
    } catch {
      // read-only home, full disk, …: the in-memory cache still works
    }
  }
}
