/**
 * A fingerprint of this build's engine and rewriter code, part of every cache key and artifact: two
 * builds with the same version string but different instrumentation must not share compiled modules.
 *
 * Computed once, on first use: in a bundle (scripts/bundle-cli.mjs) it is a constant that esbuild wrote
 * in; unbundled it is the hash of the compiled files of src/engine/ and src/wasm/ beside this one.
 * Both are codeFingerprint() of the same files, so bundled cells and the unbundled library agree.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCrypto } from './lazy-builtins.js';

declare const __ISOLA_BUILD_FINGERPRINT__: string | undefined; // esbuild's `define`, in bundles only

/** The folders (below dist/src) whose compiled code the fingerprint covers. */
export const FINGERPRINTED_DIRS = ['engine', 'wasm'];

/** sha256 (first 16 hex digits) over the names and contents of the .js files of `srcDir`/engine and `srcDir`/wasm. */
export function codeFingerprint(srcDir: string): string {
  const hash = nodeCrypto().createHash('sha256');
  for (const dir of FINGERPRINTED_DIRS) {
    for (const name of readdirSync(join(srcDir, dir)).filter((n) => n.endsWith('.js')).sort()) {
      hash.update(`${dir}/${name}\0`).update(readFileSync(join(srcDir, dir, name))).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

let fingerprint: string | undefined;

export function buildFingerprint(): string {
  fingerprint ??= typeof __ISOLA_BUILD_FINGERPRINT__ === 'string'
    ? __ISOLA_BUILD_FINGERPRINT__
    : codeFingerprint(fileURLToPath(new URL('..', import.meta.url)));
  return fingerprint;
}

/** Tests only: act as another build (null: this one again). */
export function setBuildFingerprintForTests(value: string | null): void {
  fingerprint = value ?? undefined;
}
