// The module encoder: header, then every section in binary order. Sections the caller does not
// rewrite are copied as raw byte slices, so an unmodified module round-trips byte for byte.
import { Writer } from './writer.js';
import { SECTION_RANK, SectionId, type Section, type WasmModule } from './sections.js';

export interface NewSection {
  id: number;
  write: (w: Writer) => void; // writes the whole section, id and size included
}

export interface EncodeOptions {
  /** Writes a replacement for `s` (id and size included) and returns true, or returns false to keep it raw. */
  rewrite?: (s: Section, w: Writer) => boolean;
  /** Sections the module lacks, placed by their binary order. */
  add?: NewSection[];
  writer?: Writer;
}

export function encodeModule(m: WasmModule, opts: EncodeOptions = {}): Uint8Array {
  const w = opts.writer ?? new Writer(m.bytes.length + 64);
  const pending = [...(opts.add ?? [])].sort((a, b) => SECTION_RANK[a.id] - SECTION_RANK[b.id]);
  const addBefore = (rank: number) => {
    while (pending.length && SECTION_RANK[pending[0].id] < rank) pending.shift()!.write(w);
  };
  w.bytes(m.bytes, 0, 8);
  for (const s of m.sections) {
    if (s.id !== SectionId.Custom) addBefore(SECTION_RANK[s.id]);
    if (!opts.rewrite?.(s, w)) w.bytes(m.bytes, s.start, s.end);
  }
  addBefore(Infinity);
  return w.finish();
}
