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
import { IsolaError } from '../errors.js';
import type { InstrumentOptions, Instrumented } from '../wasm/index.js';
import { MAC_BYTES, SigningKey } from './signing-key.js';
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
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const bodyLength = MAGIC.length + 4 + metaBytes.length + original.length + p.instrumented.length;
  const out = new Uint8Array(bodyLength + MAC_BYTES);
  let at = 0;
  out.set(MAGIC, at); at += MAGIC.length;
  new DataView(out.buffer).setUint32(at, metaBytes.length, true); at += 4;
  out.set(metaBytes, at); at += metaBytes.length;
  out.set(original, at); at += original.length;
  out.set(p.instrumented, at);
  out.set(key.mac(out.subarray(0, bodyLength)), bodyLength);
  return out;
}

/**
 * The parts of an artifact, its signature checked against the key that goes with `cacheDir` (as an Engine
 * with that cache directory checks it): what a host hands a cell, which has no key, with Engine.loadVerified.
 */
export function verifyArtifact(bytes: Uint8Array, cacheDir: string | null | undefined): ArtifactPayload {
  return decodeArtifact(bytes, new SigningKey(keyDirFor(cacheDir)));
}

const reject = (why: string): IsolaError => new IsolaError('ARTIFACT', `artifact rejected: ${why}`);

export function decodeArtifact(bytes: Uint8Array, key: SigningKey): ArtifactPayload {
  if (!isArtifact(bytes)) throw reject('not an isola artifact');
  if (bytes.length < MAGIC.length + 4 + MAC_BYTES) throw reject('truncated');
  const bodyLength = bytes.length - MAC_BYTES;
  if (!key.verify(bytes.subarray(0, bodyLength), bytes.subarray(bodyLength))) {
    throw reject(`its signature does not match this user's key (${key.path}); artifacts load only for the user `
      + 'and machine that compiled them, and are invalid once that key is deleted — recompile it with `isola compile`');
  }
  // Signed by us, so well-formed unless isola itself changed the format.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const metaLength = view.getUint32(MAGIC.length, true);
  let at = MAGIC.length + 4;
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(at, at + metaLength))) as Meta;
  at += metaLength;
  if (meta.format !== FORMAT || meta.isola !== isolaVersion()) {
    throw reject(`made by isola ${meta.isola} (format ${meta.format}); this is isola ${isolaVersion()} — recompile it with \`isola compile\``);
  }
  if (meta.build !== buildFingerprint()) {
    throw reject(`made by another build of isola ${meta.isola} (build ${String(meta.build)}; this is build ${buildFingerprint()}), `
      + 'whose instrumentation may differ — recompile it with `isola compile`');
  }
  if (at + meta.originalLength + meta.instrumentedLength !== bodyLength) throw reject('inconsistent lengths');
  const original = meta.originalLength ? bytes.slice(at, at + meta.originalLength) : null;
  at += meta.originalLength;
  return { cacheKey: meta.cacheKey, options: meta.options, fuel: meta.fuel, original, instrumented: bytes.slice(at, bodyLength) };
}
