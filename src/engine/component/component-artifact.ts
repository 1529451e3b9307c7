/**
 * A compiled component as a signed artifact (`isola compile comp.wasm`):
 *
 *   "ISOLACMP" | u32le meta length | meta (JSON) | component | glue | each core module's artifact | HMAC-SHA256
 *
 * Every core module is a module artifact (original and instrumented bytes), so loading one instruments
 * nothing. The MAC (the user's key, as for module artifacts) covers everything before it and is checked
 * before anything is read: the glue is code, and only glue this user's isola wrote is ever run.
 */
import type { InstrumentOptions } from '../../wasm/index.js';
import { buildFingerprint } from '../build-fingerprint.js';
import type { SigningKey } from '../signing-key.js';
import { openSigned, rejectArtifact, sealSigned } from '../signed-file.js';
import { isolaVersion } from '../version.js';

export const COMPONENT_MAGIC = Uint8Array.of(0x49, 0x53, 0x4f, 0x4c, 0x41, 0x43, 0x4d, 0x50); // "ISOLACMP"
const FORMAT = 1;

export function isComponentArtifact(bytes: Uint8Array): boolean {
  return bytes.length >= COMPONENT_MAGIC.length && COMPONENT_MAGIC.every((b, i) => bytes[i] === b);
}

export interface ComponentArtifactParts {
  options: InstrumentOptions;
  component: Uint8Array;
  glue: string;
  exports: Array<[string, 'function' | 'instance']>;
  /** Core modules by name, each a module artifact. */
  cores: Array<[string, Uint8Array]>;
}

interface Meta {
  format: number;
  isola: string;
  build: string;
  options: InstrumentOptions;
  exports: ComponentArtifactParts['exports'];
  componentLength: number;
  glueLength: number;
  cores: Array<[string, number]>;
}

export function encodeComponentArtifact(p: ComponentArtifactParts, key: SigningKey): Uint8Array {
  const glue = new TextEncoder().encode(p.glue);
  const meta: Meta = {
    format: FORMAT, isola: isolaVersion(), build: buildFingerprint(), options: p.options, exports: p.exports,
    componentLength: p.component.length, glueLength: glue.length, cores: p.cores.map(([n, b]) => [n, b.length]),
  };
  return sealSigned(COMPONENT_MAGIC, meta, [p.component, glue, ...p.cores.map(([, b]) => b)], key);
}

export function decodeComponentArtifact(bytes: Uint8Array, key: SigningKey): ComponentArtifactParts {
  if (!isComponentArtifact(bytes)) throw rejectArtifact('not an isola component artifact');
  const opened = openSigned(bytes, COMPONENT_MAGIC, key);
  const meta = opened.meta as Meta;
  let at = opened.at;
  if (meta.format !== FORMAT || meta.isola !== isolaVersion() || meta.build !== buildFingerprint()) {
    throw rejectArtifact(`made by another isola (${meta.isola}, build ${String(meta.build)}; this is ${isolaVersion()}, build ${buildFingerprint()}) — recompile it with \`isola compile\``);
  }
  const take = (n: number): Uint8Array => bytes.slice(at, (at += n));
  const component = take(meta.componentLength);
  const glue = new TextDecoder().decode(take(meta.glueLength));
  const cores = meta.cores.map(([n, len]): [string, Uint8Array] => [n, take(len)]);
  if (at !== opened.bodyLength) throw rejectArtifact('inconsistent lengths');
  return { options: meta.options, component, glue, exports: meta.exports, cores };
}
