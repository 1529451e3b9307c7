// inspect(): a summary of a module's interface, for the CLI and the engine. Never walks code.
import { decodeModule, readHeader, SectionId, type ExternKind, type WasmModule } from './sections.js';
import { readNames } from './names.js';
import { formatSig, type FuncSig } from './types.js';

export interface ModuleInfo {
  kind: 'module' | 'component';
  size: number;
  imports: Array<{ module: string; name: string; kind: ExternKind; sig?: FuncSig; type?: string }>;
  exports: Array<{ name: string; kind: ExternKind; index: number; sig?: FuncSig; type?: string }>;
  memories: Array<{ index: number; imported: boolean; initialPages: number; maximumPages: number | null; shared: boolean; memory64: boolean }>;
  tables: Array<{ index: number; imported: boolean; elemType: string; initial: number; maximum: number | null }>;
  globals: number;
  functions: { imported: number; defined: number };
  /** Exception tags (exception handling). */
  tags: { imported: number; defined: number };
  start: number | null;
  customSections: Array<{ name: string; size: number }>;
  wasi: 'command' | 'reactor' | null;
  functionNames: Map<number, string>;
}

const WASI_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable']);

/** True when the module imports anything from a WASI preview 1 namespace. */
export function importsWasi(info: Pick<ModuleInfo, 'imports'>): boolean {
  return info.imports.some((i) => WASI_MODULES.has(i.module));
}

function emptyInfo(kind: 'module' | 'component', size: number): ModuleInfo {
  return {
    kind,
    size,
    imports: [],
    exports: [],
    memories: [],
    tables: [],
    globals: 0,
    functions: { imported: 0, defined: 0 },
    tags: { imported: 0, defined: 0 },
    start: null,
    customSections: [],
    wasi: null,
    functionNames: new Map(),
  };
}

/** Signatures of every function index (imports first), and of every tag index. */
function indexSpaces(m: WasmModule) {
  const sig = (t: number | undefined): FuncSig | undefined => (t === undefined ? undefined : m.types[t]);
  const funcs: Array<FuncSig | undefined> = [];
  const tags: Array<FuncSig | undefined> = [];
  const globals: string[] = [];
  const tables: string[] = [];
  const memories: string[] = [];
  const limitsText = (min: number, max: number | null) => (max === null ? `${min}` : `${min}..${max}`);
  for (const imp of m.imports) {
    if (imp.kind === 'func') funcs.push(sig(imp.typeIndex));
    else if (imp.kind === 'tag') tags.push(sig(imp.typeIndex));
    else if (imp.global) globals.push(imp.global.mutable ? `mut ${imp.global.type}` : imp.global.type);
    else if (imp.table) tables.push(`${imp.table.elemType} ${limitsText(imp.table.limits.min, imp.table.limits.max)}`);
    else if (imp.memory) memories.push(`${limitsText(imp.memory.min, imp.memory.max)} pages${imp.memory.shared ? ' shared' : ''}${imp.memory.is64 ? ' i64' : ''}`);
  }
  for (const t of m.funcTypeIndices) funcs.push(sig(t));
  for (const t of m.tags) tags.push(sig(t));
  for (const g of m.globals) globals.push(g.mutable ? `mut ${g.type}` : g.type);
  for (const t of m.tables) tables.push(`${t.elemType} ${limitsText(t.limits.min, t.limits.max)}`);
  for (const l of m.memories) memories.push(`${limitsText(l.min, l.max)} pages${l.shared ? ' shared' : ''}${l.is64 ? ' i64' : ''}`);
  return { funcs, tags, globals, tables, memories };
}

export function inspect(bytes: Uint8Array): ModuleInfo {
  if (readHeader(bytes) === 'component') return emptyInfo('component', bytes.length);
  const m = decodeModule(bytes);
  const info = emptyInfo('module', bytes.length);
  const spaces = indexSpaces(m);

  let funcIdx = 0;
  let tagIdx = 0;
  let globalIdx = 0;
  let tableIdx = 0;
  let memIdx = 0;
  for (const imp of m.imports) {
    const entry: ModuleInfo['imports'][number] = { module: imp.module, name: imp.name, kind: imp.kind };
    if (imp.kind === 'func') entry.sig = spaces.funcs[funcIdx++];
    else if (imp.kind === 'tag') entry.sig = spaces.tags[tagIdx++];
    else if (imp.kind === 'global') entry.type = spaces.globals[globalIdx++];
    else if (imp.kind === 'table') {
      entry.type = spaces.tables[tableIdx];
      const l = imp.table!.limits;
      info.tables.push({ index: tableIdx++, imported: true, elemType: imp.table!.elemType, initial: l.min, maximum: l.max });
    } else {
      entry.type = spaces.memories[memIdx];
      const l = imp.memory!;
      info.memories.push({ index: memIdx++, imported: true, initialPages: l.min, maximumPages: l.max, shared: l.shared, memory64: l.is64 });
    }
    if (entry.sig) entry.type = formatSig(entry.sig);
    info.imports.push(entry);
  }
  for (const t of m.tables) {
    info.tables.push({ index: tableIdx++, imported: false, elemType: t.elemType, initial: t.limits.min, maximum: t.limits.max });
  }
  for (const l of m.memories) {
    info.memories.push({ index: memIdx++, imported: false, initialPages: l.min, maximumPages: l.max, shared: l.shared, memory64: l.is64 });
  }
  for (const e of m.exports) {
    const entry: ModuleInfo['exports'][number] = { name: e.name, kind: e.kind, index: e.index };
    const sig = e.kind === 'func' ? spaces.funcs[e.index] : e.kind === 'tag' ? spaces.tags[e.index] : undefined;
    if (sig) {
      entry.sig = sig;
      entry.type = formatSig(sig);
    } else if (e.kind === 'global') entry.type = spaces.globals[e.index];
    else if (e.kind === 'table') entry.type = spaces.tables[e.index];
    else if (e.kind === 'memory') entry.type = spaces.memories[e.index];
    info.exports.push(entry);
  }

  info.globals = m.importedGlobals + m.globals.length;
  info.functions = { imported: m.importedFuncs, defined: m.funcTypeIndices.length };
  info.tags = { imported: m.importedTags, defined: m.tags.length };
  info.start = m.start;
  const nameSection = m.sections.find((s) => s.id === SectionId.Custom && s.name === 'name');
  for (const s of m.sections) {
    if (s.id === SectionId.Custom) info.customSections.push({ name: s.name!, size: s.end - s.contentStart });
  }
  info.functionNames = readNames(bytes, nameSection).functions;

  const exportNames = new Set(m.exports.filter((e) => e.kind === 'func').map((e) => e.name));
  if (exportNames.has('_start')) info.wasi = 'command';
  else if (exportNames.has('_initialize') || importsWasi(m)) info.wasi = 'reactor';
  return info;
}
