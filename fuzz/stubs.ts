// Something of the right kind for every import a module declares, so mutated modules get as far as
// running: functions returning zeros, small memories and tables, globals, tags. A stub that cannot be
// made is left out (the engine then refuses to link, which is an IsolaError too).
import type { ModuleInfo } from '../src/wasm/index.js';

const zero = (t: string): unknown => (t === 'i64' ? 0n : t === 'f32' || t === 'f64' || t === 'i32' ? 0 : null);

export function importStubs(info: ModuleInfo): WebAssembly.Imports {
  const imports: WebAssembly.Imports = {};
  const memories = info.memories.filter((m) => m.imported);
  const tables = info.tables.filter((t) => t.imported);
  let memory = 0;
  let table = 0;
  for (const imp of info.imports) {
    let value: WebAssembly.ImportValue | undefined;
    try {
      if (imp.kind === 'func') {
        // (a JS function for a v128 import too: the engine must refuse it, not V8 at the call)
        const results = imp.sig?.results ?? [];
        value = results.length <= 1 ? () => (results.length ? zero(results[0]!) : undefined) : () => results.map(zero);
      } else if (imp.kind === 'memory') {
        const m = memories[memory++]!;
        if (m.initialPages <= 64 && !m.memory64) {
          value = new WebAssembly.Memory({ initial: m.initialPages, maximum: m.maximumPages ?? undefined, shared: m.shared } as WebAssembly.MemoryDescriptor);
        }
      } else if (imp.kind === 'table') {
        const t = tables[table++]!;
        const element = t.elemType === 'funcref' ? 'anyfunc' : t.elemType === 'externref' ? 'externref' : undefined;
        if (element && t.initial <= 10_000) value = new WebAssembly.Table({ element, initial: t.initial, maximum: t.maximum ?? undefined } as WebAssembly.TableDescriptor);
      } else if (imp.kind === 'global') {
        const [mut, type] = imp.type?.startsWith('mut ') ? [true, imp.type.slice(4)] : [false, imp.type ?? ''];
        if (['i32', 'i64', 'f32', 'f64', 'externref', 'funcref'].includes(type)) {
          value = new WebAssembly.Global({ value: (type === 'funcref' ? 'anyfunc' : type) as WebAssembly.ValueType, mutable: mut }, zero(type) as never);
        }
      } else if (imp.kind === 'tag') {
        const params = imp.sig?.params ?? [];
        value = new WebAssembly.Tag({ parameters: params as WebAssembly.ValueType[] }) as unknown as WebAssembly.ImportValue;
      }
    } catch {
      value = undefined; // e.g. a descriptor V8 refuses: leave it out
    }
    if (value !== undefined) (imports[imp.module] ??= {})[imp.name] = value;
  }
  return imports;
}
