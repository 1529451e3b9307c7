/** `isola inspect FILE [--json]`. A component is described, not refused: telling what a file is, is the point. */
import { IsolaError } from '../errors.js';
import { inspect as inspectModule, type ModuleInfo } from '../wasm/index.js';
import { checkValid } from '../wasm/validate.js';
import { formatInspect, inspectJson, type ArtifactFacts } from './format-inspect.js';
import { readInputFile } from './read-input.js';
import { writeStdout } from './stdout.js';

export async function inspectCommand(file: string, flags: { json?: boolean }): Promise<number> {
  const bytes = readInputFile(file);
  let info: ModuleInfo;
  let artifact: ArtifactFacts | null = null;
  const { isArtifact } = await import('../engine/artifact.js');
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

/** A component: its world in WIT (imports and exports with their types), as wasm-tools prints it. */
async function inspectComponent(file: string, bytes: Uint8Array, flags: { json?: boolean }): Promise<number> {
  const { componentWorld } = await import('../engine/component/wit.js');
  const { liftOrCached } = await import('../engine/component/compile-component.js');
  const wit = await componentWorld(bytes);
  const { lifted } = await liftOrCached(bytes, null);
  if (flags.json) {
    writeStdout(`${JSON.stringify({ file, kind: 'component', size: bytes.length, imports: lifted.imports, exports: lifted.exports.map(([name, kind]) => ({ name, kind })), wit }, null, 2)}\n`);
  } else {
    writeStdout(`${file}: WebAssembly component, ${bytes.length} bytes\n\n${wit.trimEnd()}\n`);
  }
  return 0;
}

