/** `isola inspect FILE [--json]`. A component is described, not refused: telling what a file is, is the point. */
import { IsolaError } from '../errors.js';
import { inspect as inspectModule, type ModuleInfo } from '../wasm/index.js';
import { checkValid } from '../wasm/validate.js';
import { formatInspect, inspectJson, type ArtifactFacts } from './format-inspect.js';
import { readInputFile } from './read-input.js';
import { writeStdout } from './stdout.js';
import type { ComponentSurface } from '../wasm/component/types.js';

export async function inspectCommand(file: string, flags: { json?: boolean }): Promise<number> {
  const bytes = readInputFile(file);
  let info: ModuleInfo;
  let artifact: ArtifactFacts | null = null;
  const { isArtifact } = await import('../engine/artifact.js');
  const { isComponentArtifact } = await import('../engine/component/component-artifact.js');
  if (isComponentArtifact(bytes)) {
    // Checked like any artifact (a forged one is refused), then described as the component it holds.
    const { Engine } = await import('../engine/engine.js');
    const { decodeComponentArtifact } = await import('../engine/component/component-artifact.js');
    const p = decodeComponentArtifact(bytes, new Engine().signingKey);
    const o = p.options;
    const note = `isola artifact of a component: fuel metering ${o.fuel === true ? 'on' : 'off'}, memory cap ${o.maxMemoryBytes === undefined ? 'none' : `${o.maxMemoryBytes} bytes`}`;
    return inspectComponent(file, p.component, flags, note);
  }
  if (isArtifact(bytes)) {
    const { Engine } = await import('../engine/engine.js');
    const compiled = new Engine().loadArtifact(bytes);
    info = compiled.info;
    artifact = { fuel: compiled.options.fuel === true, maxMemoryBytes: compiled.options.maxMemoryBytes };
  } else {
    try {
      info = inspectModule(bytes);
    } catch (e) {
      if (!(e instanceof IsolaError && e.code === 'COMPONENT')) throw e;
      return inspectComponent(file, bytes, flags);
    }
    if (info.kind === 'component') return inspectComponent(file, bytes, flags);
    // inspect() reads lazily (function bodies are not decoded); V8 checks the rest.
    if (info.kind === 'module') checkValid(bytes);
  }
  writeStdout(flags.json ? inspectJson(file, info, artifact) : formatInspect(file, info, artifact));
  return 0;
}

/** A component: its world in WIT, as wasm-tools prints it, and every exported and imported function with its WIT type. */
async function inspectComponent(file: string, bytes: Uint8Array, flags: { json?: boolean }, artifact?: string): Promise<number> {
  const { componentWorld } = await import('../engine/component/wit.js');
  const { typesOrNull } = await import('../engine/component/compile-component.js');
  const { formatFunc } = await import('../wasm/component/types.js');
  const wit = await componentWorld(bytes);
  const types = typesOrNull(bytes);
  const listing = (s: ComponentSurface): { functions: string[]; interfaces: Record<string, string[]> } => ({
    functions: [...s.functions].map(([n, f]) => formatFunc(n, f)),
    interfaces: Object.fromEntries([...s.interfaces].map(([i, fns]) => [i, [...fns].map(([n, f]) => formatFunc(n, f))])),
  });
  if (flags.json) {
    const surface = types === null ? null : { exports: listing(types.exports), imports: listing(types.imports) };
    writeStdout(`${JSON.stringify({ file, kind: 'component', size: bytes.length, ...(artifact === undefined ? {} : { artifact }), wit, ...surface }, null, 2)}\n`);
    return 0;
  }
  let text = `${file}: WebAssembly component, ${bytes.length} bytes${artifact === undefined ? '' : `\n${artifact}`}\n\n${wit.trimEnd()}\n`;
  if (types !== null) {
    for (const [title, s] of [['exports', types.exports], ['imports', types.imports]] as const) {
      const l = listing(s);
      if (l.functions.length === 0 && Object.keys(l.interfaces).length === 0) continue;
      text += `\n${title}:\n`;
      for (const f of l.functions) text += `  ${f}\n`;
      for (const [i, fns] of Object.entries(l.interfaces)) text += `  ${i}\n${fns.map((f) => `    ${f}\n`).join('')}`;
    }
  } else text += '\n(export and import types not shown: the component uses features isola cannot read yet)\n';
  writeStdout(text);
  return 0;
}
