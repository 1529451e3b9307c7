// The `name` custom section: reading module/function/local names, and re-emitting it with
// function indices shifted. Engines ignore a malformed name section, so we do too: reading
// yields what could be read, and rewriting a malformed one drops it.
import { Reader } from './reader.js';
import type { Writer } from './writer.js';
import type { Section } from './sections.js';

export interface NameInfo {
  module: string | null;
  functions: Map<number, string>;
  locals: Map<number, Map<number, string>>;
}

const SUB_MODULE = 0;
const SUB_FUNCTIONS = 1;
const SUB_LOCALS = 2;
const SUB_LABELS = 3;

function readNameMap(r: Reader): Map<number, string> {
  const map = new Map<number, string>();
  for (let n = r.count('name', 2); n > 0; n--) {
    const idx = r.u32();
    map.set(idx, r.name());
  }
  return map;
}

/** Content start of a custom section (after its name). */
function contentAfterName(bytes: Uint8Array, section: Section): number {
  const r = new Reader(bytes, section.contentStart, section.end);
  r.name();
  return r.pos;
}

export function readNames(bytes: Uint8Array, section: Section | undefined): NameInfo {
  const info: NameInfo = { module: null, functions: new Map(), locals: new Map() };
  if (!section) return info;
  try {
    const r = new Reader(bytes, contentAfterName(bytes, section), section.end);
    while (!r.atEnd()) {
      const id = r.u8();
      const size = r.u32();
      const sub = new Reader(bytes, r.pos, r.pos + size);
      if (size > r.remaining) break;
      r.pos += size;
      if (id === SUB_MODULE) info.module = sub.name();
      else if (id === SUB_FUNCTIONS) info.functions = readNameMap(sub);
      else if (id === SUB_LOCALS) {
        for (let n = sub.count('local name', 2); n > 0; n--) {
          const f = sub.u32();
          info.locals.set(f, readNameMap(sub));
        }
      }
    }
  } catch {
    // keep what was read before the damage
  }
  return info;
}

/** Copies an indirect or direct name map, shifting the function index (the outer one) by `shift(i)`. */
function copyShifted(r: Reader, w: Writer, indirect: boolean, shift: (i: number) => number): void {
  const n = r.count('name', 2);
  w.u32(n);
  for (let i = 0; i < n; i++) {
    w.u32(shift(r.u32()));
    if (indirect) {
      const inner = r.count('name', 2);
      w.u32(inner);
      for (let k = 0; k < inner; k++) {
        w.u32(r.u32());
        const at = r.pos;
        r.skipName();
        w.bytes(r.bytes, at, r.pos);
      }
    } else {
      const at = r.pos;
      r.skipName();
      w.bytes(r.bytes, at, r.pos);
    }
  }
}

/**
 * Re-emits the name section with function indices mapped by `shift`. Returns false (writing
 * nothing) when the section is malformed. Label names keep their label indices.
 */
export function writeShiftedNames(bytes: Uint8Array, section: Section, w: Writer, shift: (i: number) => number): boolean {
  const mark = w.len;
  try {
    const body = contentAfterName(bytes, section);
    w.section(0, () => {
      w.bytes(bytes, section.contentStart, body);
      const r = new Reader(bytes, body, section.end);
      while (!r.atEnd()) {
        const id = r.u8();
        const size = r.u32();
        const sub = new Reader(bytes, r.pos, r.pos + size);
        r.skip(size, 'name subsection');
        if (id === SUB_FUNCTIONS || id === SUB_LOCALS || id === SUB_LABELS) {
          w.section(id, () => copyShifted(sub, w, id !== SUB_FUNCTIONS, shift));
          if (!sub.atEnd()) sub.fail('name subsection has trailing bytes');
        } else {
          w.u8(id);
          w.u32(size);
          w.bytes(bytes, sub.pos, sub.end);
        }
      }
    });
    return true;
  } catch {
    w.len = mark;
    return false;
  }
}
