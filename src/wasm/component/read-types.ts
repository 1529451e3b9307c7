/**
 * What a component exports and imports, with WIT types, read from its binary: enough of the component
 * model's index spaces (types, functions, instances, nested components and their instantiation, aliases,
 * imports and exports) to follow each exported function to its `canon lift` type, through the shim
 * components toolchains emit. Core sections are skipped by size. Nothing runs.
 *
 * Bounded against hostile binaries: nesting depth, the number of nested instantiations, and every vector
 * against the bytes left. Types are shared objects (types.ts), never copied.
 */
import { IsolaError } from '../../errors.js';
import { Reader } from '../reader.js';
import type { ComponentSurface, PrimitiveKind, WitFunc, WitResource, WitType } from './types.js';

const MAX_DEPTH = 32;
const MAX_INSTANTIATIONS = 10_000;

const PRIMITIVES: Record<number, PrimitiveKind> = {
  0x7f: 'bool', 0x7e: 's8', 0x7d: 'u8', 0x7c: 's16', 0x7b: 'u16', 0x7a: 's32', 0x79: 'u32', 0x78: 's64', 0x77: 'u64',
  0x76: 'f32', 0x75: 'f64', 0x74: 'char', 0x73: 'string',
};

type TypeDef = WitType | { kind: 'func'; func: WitFunc } | { kind: 'instance'; exports: Map<string, Item> } | { kind: 'component' };
type Item =
  | { sort: 'func'; func: WitFunc }
  | { sort: 'instance'; exports: Map<string, Item> }
  | { sort: 'type'; type: TypeDef }
  | { sort: 'component'; def: ComponentDef | null }
  | { sort: 'value' };

interface ComponentDef { start: number; end: number; scope: Scope }

/** One component's (or instance type's) index spaces; `parent` for outer aliases. */
class Scope {
  types: TypeDef[] = [];
  funcs: Item[] = [];
  instances: Item[] = [];
  components: Item[] = [];
  values: Item[] = [];
  constructor(readonly parent: Scope | null) {}

  space(sort: Item['sort']): Item[] | TypeDef[] {
    switch (sort) {
      case 'func': return this.funcs;
      case 'instance': return this.instances;
      case 'type': return this.types;
      case 'component': return this.components;
      default: return this.values;
    }
  }
  push(item: Item): void {
    if (item.sort === 'type') this.types.push(item.type);
    else (this.space(item.sort) as Item[]).push(item);
  }
  get(sort: Item['sort'], index: number, r: Reader): Item {
    if (sort === 'type') return { sort: 'type', type: this.type(index, r) };
    const item = (this.space(sort) as Item[])[index];
    if (item === undefined) r.fail(`${sort} index ${index} out of range`);
    return item;
  }
  type(index: number, r: Reader): TypeDef {
    const t = this.types[index];
    if (t === undefined) r.fail(`type index ${index} out of range`);
    return t;
  }
}

const SORTS: Record<number, Item['sort']> = { 0x01: 'func', 0x02: 'value', 0x03: 'type', 0x04: 'component', 0x05: 'instance' };

class ComponentReader {
  private instantiations = 0;
  constructor(private readonly r: Reader) {}

  /** The sort of a sortidx or alias; null for a core sort (its index is not ours to follow). */
  private sort(): Item['sort'] | null {
    const b = this.r.u8();
    if (b === 0x00) {
      this.r.u8();
      return null;
    }
    const s = SORTS[b];
    if (s === undefined) this.r.fail(`unknown sort 0x${b.toString(16)}`);
    return s;
  }

  private nameAttributes(): string {
    const tag = this.r.u8();
    const name = this.r.name();
    if (tag === 0x02) {
      for (let n = this.r.count('attributes'); n > 0; n--) {
        const a = this.r.u8();
        if (a === 0x00 || a === 0x01 || a === 0x02) this.r.skipName();
        else this.r.fail(`unknown name attribute 0x${a.toString(16)}`);
      }
    } else if (tag !== 0x00 && tag !== 0x01) this.r.fail(`unknown name form 0x${tag.toString(16)}`);
    return name;
  }

  private valType(scope: Scope): WitType {
    const at = this.r.pos;
    const v = this.r.s33();
    if (v < 0) {
      const prim = PRIMITIVES[v & 0x7f];
      if (prim === undefined) this.r.fail('unknown primitive value type', at);
      return { kind: prim };
    }
    const t = scope.type(v, this.r);
    if (t.kind === 'func' || t.kind === 'instance' || t.kind === 'component') this.r.fail(`type ${v} is not a value type`, at);
    return t;
  }

  private optional<T>(read: () => T): T | null {
    const b = this.r.u8();
    if (b === 0x00) return null;
    if (b !== 0x01) this.r.fail('malformed optional');
    return read();
  }

  private resourceOf(t: TypeDef, at: number): WitResource {
    if (t.kind !== 'resource') this.r.fail('own/borrow of a type that is not a resource', at);
    return t;
  }

  /** One type definition (the type section, or a type declaration inside an instance or component type). */
  private defType(scope: Scope, depth: number): TypeDef {
    const r = this.r;
    const at = r.pos;
    const op = r.u8();
    if (PRIMITIVES[op] !== undefined) return { kind: PRIMITIVES[op]! };
    switch (op) {
      case 0x72: {
        const fields: Array<[string, WitType]> = [];
        for (let n = r.count('fields', 2); n > 0; n--) fields.push([r.name(), this.valType(scope)]);
        return { kind: 'record', fields };
      }
      case 0x71: {
        const cases: Array<[string, WitType | null]> = [];
        for (let n = r.count('cases', 3); n > 0; n--) {
          const name = r.name();
          const t = this.optional(() => this.valType(scope));
          if (r.u8() !== 0x00) r.fail('variant case refinements are not supported');
          cases.push([name, t]);
        }
        return { kind: 'variant', cases };
      }
      case 0x70: return { kind: 'list', of: this.valType(scope) };
      case 0x67: {
        const of = this.valType(scope);
        return { kind: 'list', of, length: r.u32() };
      }
      case 0x6f: {
        const of: WitType[] = [];
        for (let n = r.count('tuple types'); n > 0; n--) of.push(this.valType(scope));
        return { kind: 'tuple', of };
      }
      case 0x6e: case 0x6d: {
        const names: string[] = [];
        for (let n = r.count('names'); n > 0; n--) names.push(r.name());
        return op === 0x6e ? { kind: 'flags', names } : { kind: 'enum', cases: names };
      }
      case 0x6b: return { kind: 'option', of: this.valType(scope) };
      case 0x6a: return { kind: 'result', ok: this.optional(() => this.valType(scope)), err: this.optional(() => this.valType(scope)) };
      case 0x69: case 0x68: {
        const i = r.u32();
        return { kind: op === 0x69 ? 'own' : 'borrow', resource: this.resourceOf(scope.type(i, r), at) };
      }
      case 0x66: case 0x65: {
        this.optional(() => this.valType(scope));
        return { kind: 'unsupported', what: op === 0x66 ? 'stream' : 'future' };
      }
      case 0x64: return { kind: 'unsupported', what: 'error-context' };
      case 0x63: {
        this.valType(scope);
        this.valType(scope);
        return { kind: 'unsupported', what: 'map' };
      }
      case 0x3f: {
        r.u8(); // rep: i32
        this.optional(() => r.u32());
        return { kind: 'resource' };
      }
      case 0x40: case 0x43: {
        const params: Array<[string, WitType]> = [];
        for (let n = r.count('params', 2); n > 0; n--) params.push([r.name(), this.valType(scope)]);
        const tag = r.u8();
        let result: WitType | null = null;
        if (tag === 0x00) result = this.valType(scope);
        else if (tag !== 0x01 || r.u8() !== 0x00) r.fail('named results are not supported');
        return { kind: 'func', func: { params, result } };
      }
      case 0x41: case 0x42: {
        if (depth >= MAX_DEPTH) r.fail('types nested too deeply');
        const inner = new Scope(scope);
        const exports = new Map<string, Item>();
        for (let n = r.count('declarations'); n > 0; n--) this.declaration(inner, exports, op === 0x41, depth + 1);
        return op === 0x42 ? { kind: 'instance', exports } : { kind: 'component' };
      }
      default: return r.fail(`unknown type 0x${op.toString(16)}`, at);
    }
  }

  /** One instancedecl (or componentdecl): types, aliases and exports build the declared instance. */
  private declaration(scope: Scope, exports: Map<string, Item>, component: boolean, depth: number): void {
    const r = this.r;
    const op = r.u8();
    switch (op) {
      case 0x00: return r.fail('core types inside instance types are not supported');
      case 0x01: scope.types.push(this.defType(scope, depth)); return;
      case 0x02: this.alias(scope); return;
      case 0x03: {
        if (!component) r.fail('an import inside an instance type');
        this.nameAttributes();
        this.externItem(scope, depth); // the component type's own imports: not part of what it exports
        return;
      }
      case 0x04: {
        const name = this.nameAttributes();
        const item = this.externItem(scope, depth);
        nameType(item, name);
        scope.push(item);
        exports.set(name, item);
        return;
      }
      default: r.fail(`unknown declaration 0x${op.toString(16)}`);
    }
  }

  /** An externtype, as the item it describes. */
  private externItem(scope: Scope, depth: number): Item {
    const r = this.r;
    const at = r.pos;
    const tag = r.u8();
    switch (tag) {
      case 0x00: r.u8(); r.u32(); return { sort: 'component', def: null }; // a core module: nothing of ours
      case 0x01: {
        const t = scope.type(r.u32(), r);
        if (t.kind !== 'func') return r.fail('a function import or export whose type is not a function type', at);
        return { sort: 'func', func: t.func };
      }
      case 0x02: {
        if (r.u8() === 0x00) r.u32(); else this.valType(scope);
        return { sort: 'value' };
      }
      case 0x03: {
        const bound = r.u8();
        if (bound === 0x00) return { sort: 'type', type: scope.type(r.u32(), r) };
        if (bound === 0x01) return { sort: 'type', type: { kind: 'resource' } };
        return r.fail('unknown type bound', at);
      }
      case 0x04: r.u32(); return { sort: 'component', def: null };
      case 0x05: {
        const t = scope.type(r.u32(), r);
        if (t.kind !== 'instance') return r.fail('an instance import or export whose type is not an instance type', at);
        return { sort: 'instance', exports: t.exports };
      }
      default: return r.fail(`unknown extern type 0x${tag.toString(16)}`, at);
    }
    void depth;
  }

  private alias(scope: Scope): void {
    const r = this.r;
    const sort = this.sort();
    const target = r.u8();
    if (target === 0x00) {
      const inst = scope.get('instance', r.u32(), r);
      const name = r.name();
      if (sort === null) return;
      const item = inst.sort === 'instance' ? inst.exports.get(name) : undefined;
      if (item === undefined || item.sort !== sort) return r.fail(`alias of ${sort} ${name}, which the instance does not export`);
      scope.push(item);
    } else if (target === 0x01) {
      r.u32();
      r.skipName();
    } else if (target === 0x02) {
      let ct = r.u32();
      const idx = r.u32();
      let s: Scope | null = scope;
      while (ct-- > 0 && s !== null) s = s.parent;
      if (s === null) return r.fail('outer alias beyond the outermost component');
      if (sort !== null) scope.push(s.get(sort, idx, r));
    } else r.fail(`unknown alias target 0x${target.toString(16)}`);
  }

  /** Reads one component body [start, end) with `args` for its imports; returns its exports and imports. */
  component(start: number, end: number, parent: Scope | null, args: Map<string, Item> | null, depth: number): ComponentSurface & { all: Map<string, Item>; items: Map<string, Item> } {
    if (depth > MAX_DEPTH) this.r.fail('components nested too deeply');
    const r = this.r;
    const saved = [r.pos, r.end];
    r.reset(start, end);
    const scope = new Scope(parent);
    const exports = new Map<string, Item>();
    const imports = new Map<string, Item>();
    while (!r.atEnd()) {
      const id = r.u8();
      const size = r.u32();
      const sectionEnd = r.pos + size;
      if (sectionEnd > r.end) r.fail(`section ${id} of ${size} bytes overruns the end`);
      const outerEnd = r.end;
      r.end = sectionEnd;
      switch (id) {
        case 4: // a nested component, with a preamble of its own
          if (size < 8 || r.bytes[r.pos + 4] !== 0x0d || r.bytes[r.pos + 6] !== 0x01) r.fail('nested component without a component preamble');
          scope.components.push({ sort: 'component', def: { start: r.pos + 8, end: sectionEnd, scope } });
          r.pos = sectionEnd;
          break;
        case 5: for (let n = r.count('instances'); n > 0; n--) scope.instances.push(this.instance(scope, depth)); break;
        case 6: for (let n = r.count('aliases'); n > 0; n--) this.alias(scope); break;
        case 7: for (let n = r.count('types'); n > 0; n--) scope.types.push(this.defType(scope, depth)); break;
        case 8: for (let n = r.count('canonical definitions'); n > 0; n--) this.canon(scope); break;
        case 10: for (let n = r.count('imports'); n > 0; n--) {
          const name = this.nameAttributes();
          const declared = this.externItem(scope, depth);
          const item = args?.get(name) ?? declared; // named by an export, not by how a shim imports it
          scope.push(item);
          imports.set(name, item);
        } break;
        case 11: for (let n = r.count('exports'); n > 0; n--) {
          const name = this.nameAttributes();
          const sort = this.sort();
          const idx = r.u32();
          const ascribed = this.optional(() => this.externItem(scope, depth));
          if (sort === null) continue;
          // The ascribed type, when there is one, is written in terms of the exported (named) types.
          const item = ascribed ?? scope.get(sort, idx, r);
          nameType(item, name);
          scope.push(item);
          exports.set(name, item);
        } break;
        default: r.pos = sectionEnd; // custom, core module/instance/type, start, value: not needed
      }
      if (r.pos !== sectionEnd) r.fail(`section ${id} has ${sectionEnd - r.pos} bytes left over`);
      r.end = outerEnd;
    }
    r.reset(saved[0]!, saved[1]!);
    return { ...surface(exports), items: imports };
  }

  private instance(scope: Scope, depth: number): Item {
    const r = this.r;
    const op = r.u8();
    if (op === 0x00) {
      const c = scope.get('component', r.u32(), r);
      const args = new Map<string, Item>();
      for (let n = r.count('arguments', 2); n > 0; n--) {
        const name = r.name();
        const sort = this.sort();
        const idx = r.u32();
        if (sort !== null) args.set(name, scope.get(sort, idx, r));
      }
      if (c.sort !== 'component' || c.def === null) return { sort: 'instance', exports: new Map() };
      if (++this.instantiations > MAX_INSTANTIATIONS) r.fail('too many nested instantiations');
      const inner = this.component(c.def.start, c.def.end, c.def.scope, args, depth + 1);
      return { sort: 'instance', exports: inner.all };
    }
    if (op === 0x01) {
      const exports = new Map<string, Item>();
      for (let n = r.count('exports', 3); n > 0; n--) {
        const name = this.nameAttributes();
        const sort = this.sort();
        const idx = r.u32();
        if (sort !== null) exports.set(name, scope.get(sort, idx, r));
      }
      return { sort: 'instance', exports };
    }
    return r.fail(`unknown instance form 0x${op.toString(16)}`);
  }

  private canon(scope: Scope): void {
    const r = this.r;
    const at = r.pos;
    const op = r.u8();
    const opts = (): void => {
      for (let n = r.count('options'); n > 0; n--) {
        const o = r.u8();
        if (o === 0x03 || o === 0x04 || o === 0x05 || o === 0x07) r.u32();
        else if (o > 0x07) r.fail(`unknown canonical option 0x${o.toString(16)}`);
      }
    };
    switch (op) {
      case 0x00: {
        r.u8();
        r.u32();
        opts();
        const t = scope.type(r.u32(), r);
        if (t.kind !== 'func') return r.fail('canon lift of a type that is not a function type', at);
        scope.funcs.push({ sort: 'func', func: t.func });
        return;
      }
      case 0x01: r.u8(); r.u32(); opts(); return;
      case 0x02: case 0x03: case 0x04: case 0x07: r.u32(); return;
      default: r.fail(`canonical definition 0x${op.toString(16)} is not supported (component model async or threads)`, at);
    }
  }
}

/** Gives a record, variant, enum, flags or resource the name it is first exported under. */
function nameType(item: Item, name: string): void {
  if (item.sort !== 'type') return;
  const t = item.type as { kind: string; name?: string };
  if (['record', 'variant', 'enum', 'flags', 'resource'].includes(t.kind) && t.name === undefined) t.name = name;
}

function surface(items: Map<string, Item>): ComponentSurface & { all: Map<string, Item> } {
  const functions = new Map<string, WitFunc>();
  const interfaces = new Map<string, Map<string, WitFunc>>();
  for (const [name, item] of items) {
    if (item.sort === 'func') functions.set(name, item.func);
    else if (item.sort === 'instance') {
      const fns = new Map<string, WitFunc>();
      for (const [n, i] of item.exports) if (i.sort === 'func') fns.set(n, i.func);
      interfaces.set(name, fns);
    }
  }
  return { functions, interfaces, all: items };
}

export interface ComponentTypes { exports: ComponentSurface; imports: ComponentSurface }

/** A component's exports and imports with their WIT types. DECODE for malformed input, with its offset. */
export function readComponentTypes(bytes: Uint8Array): ComponentTypes {
  const r = new Reader(bytes);
  if (bytes.length < 8 || bytes[4] !== 0x0d || bytes[6] !== 0x01) throw new IsolaError('COMPONENT', 'not a component');
  const reader = new ComponentReader(r);
  const root = reader.component(8, bytes.length, null, null, 0);
  return { exports: { functions: root.functions, interfaces: root.interfaces }, imports: surface(root.items) };
}
