/** How an artifact is told from a .wasm module: its first 8 bytes. (Alone so checking costs no imports.) */
export const MAGIC = Uint8Array.of(0x49, 0x53, 0x4f, 0x4c, 0x41, 0x41, 0x52, 0x54); // "ISOLAART"

export function isArtifact(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}
