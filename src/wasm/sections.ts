// The module decoder: header, section headers, then each known section into plain records that
// keep the byte ranges the rewriters copy from. Function bodies are only delimited here; their
// instructions are walked by whoever needs them (the fuel pass), never by inspect.
import { IsolaError } from '../errors.js';
import { Reader, decodeError } from './reader.js';
import { readRefType, readValType, type FuncSig, type ValType } from './types.js';
import { skipConstExpr } from './instructions.js';

export const enum SectionId {
  Custom = 0,
  Type = 1,
  Import = 2,
  Function = 3,
  Table = 4,
  Memory = 5,
  Global = 6,
  Export = 7,
  Start = 8,
  Element = 9,
  Code = 10,
  Data = 11,
  DataCount = 12,
  Tag = 13,
}

export const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data',
  'datacount', 'tag',
];

/** Position of each known section id in the required order (the tag section sits between memory and global). */
export const SECTION_RANK: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };

export type ExternKind = 'func' | 'table' | 'memory' | 'global' | 'tag';
const EXTERN_KINDS: ExternKind[] = ['func', 'table', 'memory', 'global', 'tag'];

export interface Section {
  id: number;
  start: number; // the id byte
  contentStart: number;
  end: number;
  name?: string; // custom sections
}

export interface Limits {
  min: number;
  max: number | null;
  shared: boolean;
  is64: boolean;
  start: number; // byte range of the encoded limits (flags byte included)
  end: number;
}

export interface TableType {
  elemType: string;
  limits: Limits;
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
  start: number;
  end: number;
  typeIndex?: number; // func, tag
  table?: TableType;
  memory?: Limits;
  global?: { type: ValType; mutable: boolean };
}

export interface TableEntry extends TableType {
  start: number;
  end: number;
}

export interface GlobalEntry {
  type: ValType;
  mutable: boolean;
  start: number;
  end: number;
}

export interface ExportEntry {
  name: string;
  kind: ExternKind;
  index: number;
  start: number;
  end: number;
  indexAt: number;
}

/** One function body: `start` is its first byte after the size prefix. */
export interface FunctionBody {
  start: number;
  end: number;
}

export interface WasmModule {
  bytes: Uint8Array;
  sections: Section[];
  types: FuncSig[];
  imports: ImportEntry[];
  importedFuncs: number;
  importedTables: number;
  importedMemories: number;
  importedGlobals: number;
  importedTags: number;
  funcTypeIndices: number[]; // of defined functions
  tables: TableEntry[]; // defined
  memories: Limits[]; // defined
  globals: GlobalEntry[]; // defined
  exports: ExportEntry[];
  start: number | null;
  tags: number[]; // defined tags' type indices
  elementCount: number;
  dataCount: number | null;
  dataSegments: number;
  bodies: FunctionBody[];
  /** Byte positions of function-index LEBs outside the code section, per section id. */
  funcRefs: Map<number, number[]>;
  section(id: number): Section | undefined;
}

export const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
const MODULE_VERSION = [0x01, 0x00, 0x00, 0x00];
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00];

function startsWith(bytes: Uint8Array, at: number, expected: number[]): boolean {
  return expected.every((b, i) => bytes[at + i] === b);
}

/** Checks magic and version; returns the kind of binary. */
export function readHeader(bytes: Uint8Array): 'module' | 'component' {
  if (bytes.length === 0) throw decodeError(0, 'empty input (0 bytes)');
  const magicLen = Math.min(4, bytes.length);
  if (!startsWith(bytes, 0, WASM_MAGIC.slice(0, magicLen))) {
    throw decodeError(0, 'bad magic number (not a WebAssembly binary)');
  }
  if (bytes.length < 8) throw decodeError(bytes.length, `truncated header (${bytes.length} of 8 bytes)`);
  if (startsWith(bytes, 4, COMPONENT_VERSION)) return 'component';
  if (!startsWith(bytes, 4, MODULE_VERSION)) {
    const v = Array.from(bytes.subarray(4, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw decodeError(4, `unsupported version ${v}`);
  }
  return 'module';
}

export function readLimits(r: Reader, what: 'memory' | 'table'): Limits {
  const start = r.pos;
  const flags = r.u8();
  const allowed = what === 'memory' ? 0x07 : 0x05;
  if (flags & ~allowed) r.fail(`unsupported ${what} limits flags 0x${flags.toString(16)}`, start);
  const is64 = (flags & 0x04) !== 0;
  const shared = (flags & 0x02) !== 0;
  const read = () => (is64 ? r.u64() : r.u32());
  const min = read();
  const max = flags & 0x01 ? read() : null;
  if (shared && max === null) r.fail('shared memory must have a maximum', start);
  return { min, max, shared, is64, start, end: r.pos };
}

function readTableType(r: Reader): TableType {
  const elemType = readRefType(r);
  return { elemType, limits: readLimits(r, 'table') };
}

function readExternKind(r: Reader): ExternKind {
  const at = r.pos;
  const k = r.u8();
  return EXTERN_KINDS[k] ?? r.fail(`unknown external kind 0x${k.toString(16)}`, at);
}

function readFuncTypes(r: Reader): FuncSig[] {
  const n = r.count('type', 3);
  const types: FuncSig[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const form = r.u8();
    if (form === 0x4e || form === 0x50 || form === 0x4f || form === 0x5f || form === 0x5e) {
      r.fail(`GC types (form 0x${form.toString(16)}) are not supported`, at);
    }
    if (form !== 0x60) r.fail(`unknown type form 0x${form.toString(16)}`, at);
    const params: ValType[] = [];
    for (let k = r.count('parameter'); k > 0; k--) params.push(readValType(r));
    const results: ValType[] = [];
    for (let k = r.count('result'); k > 0; k--) results.push(readValType(r));
    types.push({ params, results });
  }
  return types;
}

function readElements(r: Reader, refs: number[]): number {
  const n = r.count('element segment', 2);
  const onRefFunc = (at: number) => refs.push(at);
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const flags = r.u32();
    if (flags > 7) r.fail(`unknown element segment flags ${flags}`, at);
    const active = (flags & 1) === 0;
    const explicitTable = (flags & 2) !== 0;
    const usesExprs = (flags & 4) !== 0;
    if (active && explicitTable) r.u32(); // table index
    if (active) skipConstExpr(r, onRefFunc);
    if (!active || explicitTable) {
      if (usesExprs) readRefType(r);
      else if (r.u8() !== 0x00) r.fail('unknown element kind', r.pos - 1);
    }
    const count = r.count('element');
    for (let k = 0; k < count; k++) {
      if (usesExprs) skipConstExpr(r, onRefFunc);
      else {
        refs.push(r.pos);
        r.u32();
      }
    }
  }
  return n;
}

function readData(r: Reader): number {
  const n = r.count('data segment', 2);
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const flags = r.u32();
    if (flags > 2) r.fail(`unknown data segment flags ${flags}`, at);
    if (flags === 2) r.u32(); // memory index
    if (flags !== 1) skipConstExpr(r);
    r.skip(r.u32(), 'data segment');
  }
  return n;
}

function readBodies(r: Reader): FunctionBody[] {
  const n = r.count('function body', 2);
  const bodies: FunctionBody[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const size = r.u32();
    if (size > r.remaining) r.fail(`function body ${i} of ${size} bytes overruns the code section`, at);
    bodies[i] = { start: r.pos, end: r.pos + size };
    r.pos += size;
  }
  return bodies;
}

export function decodeModule(bytes: Uint8Array): WasmModule {
  if (readHeader(bytes) === 'component') {
    throw new IsolaError('COMPONENT', 'this is a WebAssembly component, not a core module');
  }
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  const m: WasmModule = {
    bytes,
    sections,
    types: [],
    imports: [],
    importedFuncs: 0,
    importedTables: 0,
    importedMemories: 0,
    importedGlobals: 0,
    importedTags: 0,
    funcTypeIndices: [],
    tables: [],
    memories: [],
    globals: [],
    exports: [],
    start: null,
    tags: [],
    elementCount: 0,
    dataCount: null,
    dataSegments: 0,
    bodies: [],
    funcRefs: new Map(),
    section: (id) => sections.find((s) => s.id === id),
  };
  let lastRank = 0;
  let hasFunctionSection = false;
  let hasCodeSection = false;
  while (!r.atEnd()) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const contentStart = r.pos;
    if (size > r.remaining) {
      r.fail(`${SECTION_NAMES[id] ?? 'unknown'} section of ${size} bytes overruns the end of the module (${r.remaining} bytes left)`, start);
    }
    const end = contentStart + size;
    const section: Section = { id, start, contentStart, end };
    if (id !== SectionId.Custom) {
      const rank = SECTION_RANK[id];
      if (rank === undefined) r.fail(`unknown section id ${id}`, start);
      if (rank === lastRank) r.fail(`duplicate ${SECTION_NAMES[id]} section`, start);
      if (rank < lastRank) r.fail(`${SECTION_NAMES[id]} section out of order`, start);
      lastRank = rank;
    }
    const s = new Reader(bytes, contentStart, end);
    const refs: number[] = [];
    switch (id) {
      case SectionId.Custom:
        section.name = s.name();
        s.pos = end;
        break;
      case SectionId.Type:
        m.types = readFuncTypes(s);
        break;
      case SectionId.Import:
        readImports(s, m);
        break;
      case SectionId.Function: {
        hasFunctionSection = true;
        const n = s.count('function');
        for (let i = 0; i < n; i++) m.funcTypeIndices.push(s.u32());
        break;
      }
      case SectionId.Table:
        for (let n = s.count('table', 2); n > 0; n--) {
          const tStart = s.pos;
          if (s.peek() === 0x40) {
            // typed function references: a table with an explicit initialiser
            s.pos++;
            if (s.u8() !== 0) s.fail('expected a zero byte after 0x40 in table type', s.pos - 1);
            const t = readTableType(s);
            skipConstExpr(s, (at) => refs.push(at));
            m.tables.push({ ...t, start: tStart, end: s.pos });
          } else {
            m.tables.push({ ...readTableType(s), start: tStart, end: s.pos });
          }
        }
        break;
      case SectionId.Memory:
        for (let n = s.count('memory', 2); n > 0; n--) m.memories.push(readLimits(s, 'memory'));
        break;
      case SectionId.Tag:
        for (let n = s.count('tag', 2); n > 0; n--) {
          if (s.u8() !== 0) s.fail('unknown tag attribute', s.pos - 1);
          m.tags.push(s.u32());
        }
        break;
      case SectionId.Global:
        for (let n = s.count('global', 3); n > 0; n--) {
          const gStart = s.pos;
          const type = readValType(s);
          const mut = s.u8();
          if (mut > 1) s.fail(`invalid global mutability ${mut}`, s.pos - 1);
          skipConstExpr(s, (at) => refs.push(at));
          m.globals.push({ type, mutable: mut === 1, start: gStart, end: s.pos });
        }
        break;
      case SectionId.Export: {
        const names = new Set<string>();
        for (let n = s.count('export', 3); n > 0; n--) {
          const eStart = s.pos;
          const name = s.name();
          if (names.has(name)) s.fail(`duplicate export name "${name}"`, eStart);
          names.add(name);
          const kind = readExternKind(s);
          const indexAt = s.pos;
          const index = s.u32();
          if (kind === 'func') refs.push(indexAt);
          m.exports.push({ name, kind, index, start: eStart, end: s.pos, indexAt });
        }
        break;
      }
      case SectionId.Start:
        refs.push(s.pos);
        m.start = s.u32();
        break;
      case SectionId.Element:
        m.elementCount = readElements(s, refs);
        break;
      case SectionId.DataCount:
        m.dataCount = s.u32();
        break;
      case SectionId.Code:
        hasCodeSection = true;
        m.bodies = readBodies(s);
        break;
      case SectionId.Data:
        m.dataSegments = readData(s);
        if (m.dataCount !== null && m.dataCount !== m.dataSegments) {
          s.fail(`data count section says ${m.dataCount} segments, data section has ${m.dataSegments}`, contentStart);
        }
        break;
    }
    if (s.pos !== end) s.fail(`${SECTION_NAMES[id]} section has ${end - s.pos} unexpected bytes at its end`, s.pos);
    if (refs.length) m.funcRefs.set(id, refs);
    sections.push(section);
    r.pos = end;
  }
  if (hasFunctionSection || hasCodeSection) {
    if (m.funcTypeIndices.length !== m.bodies.length) {
      const at = m.section(SectionId.Code)?.start ?? bytes.length;
      throw decodeError(at, `function section declares ${m.funcTypeIndices.length} functions but the code section has ${m.bodies.length} bodies`);
    }
  }
  return m;
}

function readImports(s: Reader, m: WasmModule): void {
  for (let n = s.count('import', 4); n > 0; n--) {
    const start = s.pos;
    const module = s.name();
    const name = s.name();
    const kind = readExternKind(s);
    const entry: ImportEntry = { module, name, kind, start, end: 0 };
    switch (kind) {
      case 'func':
        entry.typeIndex = s.u32();
        m.importedFuncs++;
        break;
      case 'table':
        entry.table = readTableType(s);
        m.importedTables++;
        break;
      case 'memory':
        entry.memory = readLimits(s, 'memory');
        m.importedMemories++;
        break;
      case 'global': {
        const type = readValType(s);
        const mut = s.u8();
        if (mut > 1) s.fail(`invalid global mutability ${mut}`, s.pos - 1);
        entry.global = { type, mutable: mut === 1 };
        m.importedGlobals++;
        break;
      }
      case 'tag':
        if (s.u8() !== 0) s.fail('unknown tag attribute', s.pos - 1);
        entry.typeIndex = s.u32();
        m.importedTags++;
        break;
    }
    entry.end = s.pos;
    m.imports.push(entry);
  }
}
