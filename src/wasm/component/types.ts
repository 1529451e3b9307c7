/** The component model's value and function types, as read from a component binary (read-types.ts). */

export type PrimitiveKind = 'bool' | 's8' | 'u8' | 's16' | 'u16' | 's32' | 'u32' | 's64' | 'u64' | 'f32' | 'f64' | 'char' | 'string';

/**
 * A value type. Objects are shared where the binary shares a type index (a DAG, never copied), so a
 * hostile binary cannot make a tree exponentially large. `name` is the name a type was exported under,
 * when it was (record, variant, enum, flags, resource).
 */
export type WitType =
  | { kind: PrimitiveKind }
  | { kind: 'list'; of: WitType; length?: number }
  | { kind: 'option'; of: WitType }
  | { kind: 'result'; ok: WitType | null; err: WitType | null }
  | { kind: 'tuple'; of: WitType[] }
  | { kind: 'record'; fields: Array<[string, WitType]>; name?: string }
  | { kind: 'variant'; cases: Array<[string, WitType | null]>; name?: string }
  | { kind: 'enum'; cases: string[]; name?: string }
  | { kind: 'flags'; names: string[]; name?: string }
  | { kind: 'own' | 'borrow'; resource: WitResource }
  | WitResource
  | { kind: 'unsupported'; what: string };

export interface WitResource { kind: 'resource'; name?: string }

export interface WitFunc {
  params: Array<[string, WitType]>;
  result: WitType | null;
}

/** What a component exports (or imports): functions, and interfaces (instances) of functions. */
export interface ComponentSurface {
  functions: Map<string, WitFunc>;
  interfaces: Map<string, Map<string, WitFunc>>;
}

/** A type as WIT writes it: named types by their name, others spelled out. */
export function formatType(t: WitType): string {
  switch (t.kind) {
    case 'list': return t.length === undefined ? `list<${formatType(t.of)}>` : `list<${formatType(t.of)}, ${t.length}>`;
    case 'option': return `option<${formatType(t.of)}>`;
    case 'result':
      if (t.ok === null && t.err === null) return 'result';
      if (t.err === null) return `result<${formatType(t.ok!)}>`;
      return `result<${t.ok === null ? '_' : formatType(t.ok)}, ${formatType(t.err)}>`;
    case 'tuple': return `tuple<${t.of.map(formatType).join(', ')}>`;
    case 'record': return t.name ?? `record { ${t.fields.map(([n, f]) => `${n}: ${formatType(f)}`).join(', ')} }`;
    case 'variant': return t.name ?? `variant { ${t.cases.map(([n, c]) => (c === null ? n : `${n}(${formatType(c)})`)).join(', ')} }`;
    case 'enum': return t.name ?? `enum { ${t.cases.join(', ')} }`;
    case 'flags': return t.name ?? `flags { ${t.names.join(', ')} }`;
    case 'own': return t.resource.name ?? 'resource';
    case 'borrow': return `borrow<${t.resource.name ?? 'resource'}>`;
    case 'resource': return t.name ?? 'resource';
    case 'unsupported': return t.what;
    default: return t.kind;
  }
}

export function formatFunc(name: string, f: WitFunc): string {
  const params = f.params.map(([n, t]) => `${n}: ${formatType(t)}`).join(', ');
  return `${name}: func(${params})${f.result === null ? '' : ` -> ${formatType(f.result)}`}`;
}
