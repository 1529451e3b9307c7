/**
 * The artifact file format (`isola compile` output and disk-cache entries):
 *
 *   "ISOLAART" | u32le meta length | meta (JSON) | original module | instrumented module | HMAC-SHA256
 *
 * The meta names the isola version and build fingerprint that wrote it; any other build refuses it.
 *
 * The MAC (per-user key, see signing-key.ts) covers everything before it and is checked before
 * anything else is read, so a forged or edited artifact is refused, never half-trusted.
 * Disk-cache entries omit the original module (the caller holds it; its hash is in the key).
 */
import type { InstrumentOptions, Instrumented } from '../wasm/index.js';
import { SigningKey } from './signing-key.js';
import { openSigned, rejectArtifact, sealSigned } from './signed-file.js';
import { keyDirFor } from './cache-dir.js';
import { isolaVersion } from './version.js';
import { buildFingerprint } from './build-fingerprint.js';
import { isArtifact, MAGIC } from './artifact-magic.js';

export { isArtifact };

const FORMAT = 1;

export interface ArtifactPayload {
  cacheKey: string;
  options: InstrumentOptions;
  fuel: Instrumented['fuel'];
  original: Uint8Array | null;
  instrumented: Uint8Array;
}

interface Meta {
  format: number;
  isola: string;
  /** buildFingerprint() of the isola that wrote it. */
  build: string;
  cacheKey: string;
  options: InstrumentOptions;
  fuel: Instrumented['fuel'];
  originalLength: number;
  instrumentedLength: number;
}

export function encodeArtifact(p: ArtifactPayload, key: SigningKey): Uint8Array {
  const original = p.original ?? new Uint8Array(0);
  const meta: Meta = {
    format: FORMAT, isola: isolaVersion(), build: buildFingerprint(), cacheKey: p.cacheKey, options: p.options, fuel: p.fuel,
    originalLength: original.length, instrumentedLength: p.instrumented.length,
  };
  return sealSigned(MAGIC, meta, [original, p.instrumented], key);
}

/**
 * The parts of an artifact, its signature checked against the key that goes with `cacheDir` (as an Engine
 * with that cache directory checks it): what a host hands a cell, which has no key, with Engine.loadVerified.
 */
export function verifyArtifact(bytes: Uint8Array, cacheDir: string | null | undefined): ArtifactPayload {
  return decodeArtifact(bytes, new SigningKey(keyDirFor(cacheDir)));
}

export function decodeArtifact(bytes: Uint8Array, key: SigningKey): ArtifactPayload {
  if (!isArtifact(bytes)) throw rejectArtifact('not an isola artifact');
  const opened = openSigned(bytes, MAGIC, key);
  const meta = opened.meta as Meta;
  let at = opened.at;
  const bodyLength = opened.bodyLength;
  if (meta.format !== FORMAT || meta.isola !== isolaVersion()) {
    throw rejectArtifact(`made by isola ${meta.isola} (format ${meta.format}); this is isola ${isolaVersion()} — recompile it with \`isola compile\``);
  }
  if (meta.build !== buildFingerprint()) {
    throw rejectArtifact(`made by another build of isola ${meta.isola} (build ${String(meta.build)}; this is build ${buildFingerprint()}), `
      + 'whose instrumentation may differ — recompile it with `isola compile`');
  }
  if (at + meta.originalLength + meta.instrumentedLength !== bodyLength) throw rejectArtifact('inconsistent lengths');
  const original = meta.originalLength ? bytes.slice(at, at + meta.originalLength) : null;
  at += meta.originalLength;
  return { cacheKey: meta.cacheKey, options: meta.options, fuel: meta.fuel, original, instrumented: bytes.slice(at, bodyLength) };
}
