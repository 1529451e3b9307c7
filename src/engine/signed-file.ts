/**
 * The envelope every isola artifact shares: MAGIC | u32le meta length | meta (JSON) | payload | HMAC-SHA256.
 * The MAC (the user's key, signing-key.ts) covers everything before it and is checked before anything else
 * is read, so a forged or edited file is refused, never half-trusted.
 */
import { IsolaError } from '../errors.js';
import { MAC_BYTES, type SigningKey } from './signing-key.js';

export const rejectArtifact = (why: string): IsolaError => new IsolaError('ARTIFACT', `artifact rejected: ${why}`);

/** Wraps meta and payload parts in the envelope and signs it. */
export function sealSigned(magic: Uint8Array, meta: unknown, parts: Uint8Array[], key: SigningKey): Uint8Array {
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const head = new Uint8Array(magic.length + 4);
  head.set(magic);
  new DataView(head.buffer).setUint32(magic.length, metaBytes.length, true);
  const body = Buffer.concat([head, metaBytes, ...parts]);
  return new Uint8Array(Buffer.concat([body, key.mac(body)]));
}

/** Checks the signature, then gives the meta, where the payload starts and where it ends (the MAC). */
export function openSigned(bytes: Uint8Array, magic: Uint8Array, key: SigningKey): { meta: unknown; at: number; bodyLength: number } {
  if (bytes.length < magic.length + 4 + MAC_BYTES) throw rejectArtifact('truncated');
  const bodyLength = bytes.length - MAC_BYTES;
  if (!key.verify(bytes.subarray(0, bodyLength), bytes.subarray(bodyLength))) {
    throw rejectArtifact(`its signature does not match this user's key (${key.path}); artifacts load only for the user `
      + 'and machine that compiled them, and are invalid once that key is deleted — recompile it with `isola compile`');
  }
  // Signed by us, so well-formed unless isola itself changed the format.
  const metaLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(magic.length, true);
  const at = magic.length + 4;
  return { meta: JSON.parse(new TextDecoder().decode(bytes.subarray(at, at + metaLength))), at: at + metaLength, bodyLength };
}
