// instrument(): re-emits a module with fuel metering and/or memory and table caps.
// Sections nobody touches are copied as raw byte slices; changed ones are regenerated, and
// function indices at or above the inserted import move up by one everywhere they occur.
import { IsolaError } from '../errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { decodeModule, SectionId, type Limits, type Section, type WasmModule } from './sections.js';
import { FuelRewriter, type BodyMap, type FuelPlan } from './fuel.js';
import { capMemory, capTable, memoryCapPages, writeLimits } from './memory-cap.js';
import { tableCaps, type TableDecl } from './table-caps.js';
import { importedMemory, MEMORY_IMPORT_MODULE, MEMORY_IMPORT_NAME, type ImportedMemory, type MemoryDecl } from './memory-import.js';
import { writeShiftedNames } from './names.js';
import { encodeModule, type NewSection } from './encoder.js';
import { checkValid } from './validate.js';

export interface InstrumentOptions {
  fuel?: boolean;
  /** Caps every memory (whole pages); tables together are also held to it (see table-caps.ts). */
  maxMemoryBytes?: number;
  /** Elements per table. */
  maxTableElements?: number;
  /** Elements of all tables of an instance together. */
  maxTotalTableElements?: number;
  /**
   * Turn the module's single defined memory into an import `isola`.`memory` with the same (capped)
   * limits, so the host can supply a recycled one. Ignored for modules that are not eligible
   * (see importedMemory in memory-import.ts).
   */
  importMemory?: boolean;
}

export interface Instrumented {
  bytes: Uint8Array;
  fuel: null | {
    importModule: 'isola';
    importName: 'fuel_check';
    insertedFuncIndex: number;
    globalExport: '__isola_fuel';
  };
}

export const FUEL_IMPORT_MODULE = 'isola';
export const FUEL_IMPORT_NAME = 'fuel_check';
export const FUEL_GLOBAL_EXPORT = '__isola_fuel';

const EMPTY_FUNC_TYPE = [0x60, 0x00, 0x00];
const FUEL_GLOBAL_DEF = [0x7e, 0x01, 0x42, 0x00, 0x0b]; // mut i64 = i64.const 0
const KIND_FUNC = 0x00;
const KIND_MEMORY = 0x02;
const KIND_GLOBAL = 0x03;
const BRANCH_HINT_SECTION = 'metadata.code.branch_hint';

/** The caps a rewrite applies: memory pages (null: none), and each table's maximum by table index (null: none). */
interface Caps {
  memoryPages: number | null;
  tables: number[] | null;
}

function lowerBound(sorted: number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class ModuleRewriter {
  readonly w: Writer;
  private readonly bytes: Uint8Array;
  private readonly fuel: boolean;
  private readonly plan: FuelPlan;
  private readonly newTypeIndex: number | null; // set when a [] -> [] type must be appended
  private readonly checkType: number;

  constructor(
    private readonly m: WasmModule,
    private readonly caps: Caps,
    fuel: boolean,
    private readonly memImport: ImportedMemory | null,
    private readonly maps?: BodyMap[],
  ) {
    this.bytes = m.bytes;
    this.fuel = fuel;
    this.w = new Writer(m.bytes.length + this.codeCapacity() + 256);
    const existing = m.types.findIndex((t) => t.params.length === 0 && t.results.length === 0);
    this.newTypeIndex = fuel && existing < 0 ? m.types.length : null;
    this.checkType = existing < 0 ? m.types.length : existing;
    this.plan = {
      fuelGlobal: m.importedGlobals + m.globals.length,
      checkFunc: m.importedFuncs,
      shiftFrom: fuel ? m.importedFuncs : Number.MAX_SAFE_INTEGER,
      types: m.types,
    };
  }

  private shift = (f: number): number => (f >= this.plan.shiftFrom ? f + 1 : f);

  /** Room for the rewritten code section: metering grows loop-dense code by up to ~90%. */
  private codeCapacity(): number {
    const code = this.m.section(SectionId.Code);
    const size = code ? code.end - code.start : 0;
    return this.fuel ? size * 2 + 64 : size + 64;
  }

  /** Copies bytes [from, to), re-encoding the function-index LEBs listed in `refs`. */
  private copyPatched(from: number, to: number, refs: number[] | undefined): void {
    const w = this.w;
    if (!refs || !this.fuel) return w.bytes(this.bytes, from, to);
    const r = new Reader(this.bytes, from, to);
    let cursor = from;
    for (let i = lowerBound(refs, from); i < refs.length && refs[i] < to; i++) {
      w.bytes(this.bytes, cursor, refs[i]);
      r.pos = refs[i];
      w.u32(this.shift(r.u32()));
      cursor = r.pos;
    }
    w.bytes(this.bytes, cursor, to);
  }

  /** Writes a vector section: the original entries (patched), then `extra` new entries. */
  private vectorSection(id: number, s: Section | undefined, extra: number, appendEntries: () => void): boolean {
    this.w.section(id, () => {
      if (s) {
        const r = new Reader(this.bytes, s.contentStart, s.end);
        const n = r.u32();
        this.w.u32(n + extra);
        this.copyPatched(r.pos, s.end, this.m.funcRefs.get(id));
      } else {
        this.w.u32(extra);
      }
      appendEntries();
    });
    return true;
  }

  private writeTypes(s: Section | undefined): boolean {
    if (this.newTypeIndex === null) return false;
    return this.vectorSection(SectionId.Type, s, 1, () => this.w.bytes(Uint8Array.from(EMPTY_FUNC_TYPE)));
  }

  private writeFuelImport(): void {
    const w = this.w;
    w.name(FUEL_IMPORT_MODULE);
    w.name(FUEL_IMPORT_NAME);
    w.u8(KIND_FUNC);
    w.u32(this.checkType);
  }

  private writeImports(s: Section | undefined): boolean {
    const { m, caps, w } = this;
    const capping = caps.memoryPages !== null || caps.tables !== null;
    if (!this.fuel && !capping && this.memImport === null) return false;
    let lastFuncImport = -1;
    m.imports.forEach((imp, i) => imp.kind === 'func' && (lastFuncImport = i));
    w.section(SectionId.Import, () => {
      w.u32(m.imports.length + (this.fuel ? 1 : 0) + (this.memImport !== null ? 1 : 0));
      let memIndex = 0;
      let tableIndex = 0;
      m.imports.forEach((imp, i) => {
        const limits = imp.memory ?? imp.table?.limits;
        const capped = imp.memory
          ? capMemory(imp.memory, caps.memoryPages, memIndex++)
          : imp.table
            ? capTable(imp.table.limits, caps.tables?.[tableIndex++])
            : null;
        if (capped && limits) {
          w.bytes(this.bytes, imp.start, limits.start);
          writeLimits(w, capped);
          w.bytes(this.bytes, limits.end, imp.end);
        } else {
          w.bytes(this.bytes, imp.start, imp.end);
        }
        if (this.fuel && i === lastFuncImport) this.writeFuelImport();
      });
      if (this.fuel && lastFuncImport < 0) this.writeFuelImport();
      // Last, after every imported memory (there are none): the defined memory keeps index 0.
      if (this.memImport !== null) this.writeMemoryImport(this.memImport);
    });
    return true;
  }

  private writeMemoryImport(mem: ImportedMemory): void {
    const w = this.w;
    w.name(MEMORY_IMPORT_MODULE);
    w.name(MEMORY_IMPORT_NAME);
    w.u8(KIND_MEMORY);
    writeLimits(w, { min: mem.initialPages, max: mem.maximumPages, shared: false, is64: false, start: 0, end: 0 });
  }

  private writeTables(s: Section): boolean {
    const { m, caps, w } = this;
    const refs = m.funcRefs.get(SectionId.Table);
    if (caps.tables === null && !(this.fuel && refs)) return false;
    w.section(SectionId.Table, () => {
      w.u32(m.tables.length);
      m.tables.forEach((t, i) => {
        const capped = capTable(t.limits, caps.tables?.[m.importedTables + i]);
        if (capped) {
          this.copyPatched(t.start, t.limits.start, refs);
          writeLimits(w, capped);
        } else {
          this.copyPatched(t.start, t.limits.end, refs);
        }
        this.copyPatched(t.limits.end, t.end, refs);
      });
    });
    return true;
  }

  private writeMemories(s: Section): boolean {
    const { m, caps, w } = this;
    if (this.memImport !== null) return true; // the only memory is imported now: the section goes
    if (caps.memoryPages === null) return false;
    w.section(SectionId.Memory, () => {
      w.u32(m.memories.length);
      m.memories.forEach((l, i) => writeLimits(w, capMemory(l, caps.memoryPages, m.importedMemories + i) ?? l));
    });
    return true;
  }

  private writeCode(s: Section): boolean {
    const { m, maps } = this;
    if (!this.fuel && !maps) return false;
    const rewriter = new FuelRewriter(this.bytes, this.plan);
    // The code goes to its own buffer first: the branch hints that mark every fuel check as
    // unlikely must precede the code section, and their offsets are known only after the rewrite.
    const code = new Writer(this.codeCapacity());
    const hints: number[] = []; // pairs: body index, offset of a fuel check's branch in that body
    code.section(SectionId.Code, () => {
      code.u32(m.bodies.length);
      for (let i = 0; i < m.bodies.length; i++) {
        const body = m.bodies[i];
        const map: BodyMap | undefined = maps ? { outRel: [], orig: [], inserted: [] } : undefined;
        const params = m.types[m.funcTypeIndices[i]]?.params.length ?? 0;
        const sizeAt = code.beginSized();
        rewriter.rewriteBody(code, body.start, body.end, this.fuel, params, map, hints, i);
        code.endSized(sizeAt);
        if (map) maps!.push(map);
      }
    });
    if (this.fuel) this.writeBranchHints(hints);
    this.w.bytes(code.buf, 0, code.len);
    return true;
  }

  /** `metadata.code.branch_hint`: every fuel check's branch is unlikely. `hints`: (body, offset) pairs in order. */
  private writeBranchHints(hints: number[]): void {
    if (hints.length === 0) return;
    const w = this.w;
    const firstDefined = this.m.importedFuncs + (this.fuel ? 1 : 0);
    let functions = 0;
    for (let k = 0; k < hints.length; k += 2) if (k === 0 || hints[k] !== hints[k - 2]) functions++;
    w.section(SectionId.Custom, () => {
      w.name(BRANCH_HINT_SECTION);
      w.u32(functions);
      for (let k = 0; k < hints.length; ) {
        const body = hints[k];
        let n = 0;
        while (k + 2 * n < hints.length && hints[k + 2 * n] === body) n++;
        w.u32(firstDefined + body);
        w.u32(n);
        for (; n > 0; n--, k += 2) {
          w.u32(hints[k + 1]);
          w.u8(1); // payload size
          w.u8(0); // unlikely
        }
      }
    });
  }

  /** Writes the rewritten section, or returns false when it is copied unchanged. */
  private writeSection = (s: Section): boolean => {
    const fuel = this.fuel;
    switch (s.id) {
      case SectionId.Type:
        return this.writeTypes(s);
      case SectionId.Import:
        return this.writeImports(s);
      case SectionId.Table:
        return this.writeTables(s);
      case SectionId.Memory:
        return this.writeMemories(s);
      case SectionId.Global:
        return fuel && this.vectorSection(s.id, s, 1, () => this.w.bytes(Uint8Array.from(FUEL_GLOBAL_DEF)));
      case SectionId.Export:
        return fuel && this.vectorSection(s.id, s, 1, () => this.writeFuelExport());
      case SectionId.Start:
      case SectionId.Element:
        if (!fuel) return false;
        this.w.section(s.id, () => this.copyPatched(s.contentStart, s.end, this.m.funcRefs.get(s.id)));
        return true;
      case SectionId.Code:
        return this.writeCode(s);
      case SectionId.Custom:
        // the name section is dropped (not copied stale) if it is too malformed to renumber
        if (fuel && s.name === 'name') writeShiftedNames(this.bytes, s, this.w, this.shift);
        // old branch hints point at old offsets: ours replace them
        return fuel && (s.name === 'name' || s.name === BRANCH_HINT_SECTION);
      default:
        return false;
    }
  };

  private writeFuelExport(): void {
    this.w.name(FUEL_GLOBAL_EXPORT);
    this.w.u8(KIND_GLOBAL);
    this.w.u32(this.plan.fuelGlobal);
  }

  /** Sections fuel metering or the memory import needs that the module lacks. */
  private missingSections(): NewSection[] {
    const m = this.m;
    const add: NewSection[] = [];
    if ((this.fuel || this.memImport !== null) && !m.section(SectionId.Import)) {
      add.push({ id: SectionId.Import, write: () => this.writeImports(undefined) });
    }
    if (!this.fuel) return add;
    if (!m.section(SectionId.Type)) add.push({ id: SectionId.Type, write: () => this.writeTypes(undefined) });
    if (!m.section(SectionId.Global)) {
      add.push({ id: SectionId.Global, write: () => this.vectorSection(SectionId.Global, undefined, 1, () => this.w.bytes(Uint8Array.from(FUEL_GLOBAL_DEF))) });
    }
    if (!m.section(SectionId.Export)) {
      add.push({ id: SectionId.Export, write: () => this.vectorSection(SectionId.Export, undefined, 1, () => this.writeFuelExport()) });
    }
    return add;
  }

  run(): Uint8Array {
    return encodeModule(this.m, { writer: this.w, rewrite: this.writeSection, add: this.missingSections() });
  }
}

/**
 * `validate`: V8 must accept the input first. The rewrite trusts what it copies (e.g. a function naming
 * type index N, where N is one past the last type, would name the [] -> [] type the rewrite appends),
 * so an invalid module could come out valid. mapLocation skips it: its input was compiled already.
 */
function rewrite(bytes: Uint8Array, opts: InstrumentOptions, maps?: BodyMap[], validate = true): { m: WasmModule; out: Instrumented } {
  const m = decodeModule(bytes);
  if (validate) checkValid(bytes);
  const caps: Caps = { memoryPages: memoryCapPages(opts), tables: tableCaps(tableDecls(m), opts) };
  const fuel = opts.fuel === true;
  if (fuel && m.exports.some((e) => e.name === FUEL_GLOBAL_EXPORT)) {
    throw new IsolaError('INVALID', `the module already exports "${FUEL_GLOBAL_EXPORT}"; it cannot be metered`);
  }
  const memImport = opts.importMemory === true ? importedMemory(memoryDecls(m), m.imports, caps.memoryPages) : null;
  const nothingToDo = !fuel && caps.memoryPages === null && caps.tables === null && memImport === null && !maps;
  const out = nothingToDo ? bytes : new ModuleRewriter(m, caps, fuel, memImport, maps).run();
  return {
    m,
    out: {
      bytes: out,
      fuel: fuel
        ? { importModule: 'isola', importName: 'fuel_check', insertedFuncIndex: m.importedFuncs, globalExport: '__isola_fuel' }
        : null,
    },
  };
}

/** The decoder's tables (imported first, then defined) in the shape tableCaps reads. */
function tableDecls(m: WasmModule): TableDecl[] {
  const decl = (t: { elemType: string; limits: Limits }): TableDecl => ({ initial: t.limits.min, maximum: t.limits.max, elemType: t.elemType });
  const out: TableDecl[] = [];
  for (const imp of m.imports) if (imp.table) out.push(decl(imp.table));
  for (const t of m.tables) out.push(decl(t));
  return out;
}

/** The decoder's memories (imported first, then defined) in the shape importedMemory reads. */
function memoryDecls(m: WasmModule): MemoryDecl[] {
  const decl = (l: Limits, imported: boolean): MemoryDecl => ({ imported, initialPages: l.min, maximumPages: l.max, shared: l.shared, memory64: l.is64 });
  const out: MemoryDecl[] = [];
  for (const imp of m.imports) if (imp.memory) out.push(decl(imp.memory, true));
  for (const l of m.memories) out.push(decl(l, false));
  return out;
}

/** Rewrites a module for `opts`. V8 (the running Node's) must validate it first: IsolaError('INVALID') otherwise. */
export function instrument(bytes: Uint8Array, opts: InstrumentOptions): Instrumented {
  return rewrite(bytes, opts).out;
}

/**
 * instrument() without V8's validation first, for tests of the rewriter on modules newer than the
 * running V8 (the rewriter's own checks still refuse what it cannot rewrite). Never for untrusted bytes:
 * an invalid module may come out valid.
 */
export function instrumentUnvalidated(bytes: Uint8Array, opts: InstrumentOptions): Instrumented {
  return rewrite(bytes, opts, undefined, false).out;
}

interface LocationTable {
  original: Uint8Array;
  optsKey: string;
  importedFuncs: number;
  fuel: boolean;
  outBodyStarts: number[];
  maps: BodyMap[];
}
let lastTable: LocationTable | null = null; // backtraces ask for several frames of the same module

function locationTable(original: Uint8Array, opts: InstrumentOptions): LocationTable {
  const optsKey = JSON.stringify([opts.fuel === true, opts.maxMemoryBytes, opts.maxTableElements, opts.maxTotalTableElements, opts.importMemory === true]);
  if (lastTable && lastTable.original === original && lastTable.optsKey === optsKey) return lastTable;
  const maps: BodyMap[] = [];
  const { m, out } = rewrite(original, opts, maps, false);
  const outBodyStarts = decodeModule(out.bytes).bodies.map((b) => b.start);
  lastTable = { original, optsKey, importedFuncs: m.importedFuncs, fuel: opts.fuel === true, outBodyStarts, maps };
  return lastTable;
}

/**
 * Maps a (function index, module byte offset) of the instrumented module back to the original.
 * Offsets inside inserted fuel code map to the original instruction they precede. The inserted
 * `fuel_check` import itself has no original; it is returned unchanged.
 */
export function mapLocation(original: Uint8Array, opts: InstrumentOptions, funcIndex: number, offset: number): { funcIndex: number; offset: number } {
  const t = locationTable(original, opts);
  let origFunc = funcIndex;
  if (t.fuel) {
    if (funcIndex === t.importedFuncs) return { funcIndex, offset };
    if (funcIndex > t.importedFuncs) origFunc = funcIndex - 1;
  }
  const body = origFunc - t.importedFuncs;
  if (body < 0 || body >= t.maps.length) return { funcIndex: origFunc, offset };
  const rel = offset - t.outBodyStarts[body];
  const map = t.maps[body];
  if (rel < 0) return { funcIndex: origFunc, offset: map.orig[0] };
  let k = lowerBound(map.outRel, rel + 1) - 1; // last run starting at or before rel
  if (k < 0) k = 0;
  const mapped = map.inserted[k] ? map.orig[k] : map.orig[k] + (rel - map.outRel[k]);
  return { funcIndex: origFunc, offset: mapped };
}
