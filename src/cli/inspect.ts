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
      info = componentInfo(bytes.length);
    }
    // inspect() reads lazily (function bodies are not decoded); V8 checks the rest.
    if (info.kind === 'module') checkValid(bytes);
  }
  writeStdout(flags.json ? inspectJson(file, info, artifact) : formatInspect(file, info, artifact));
  return 0;
}

function componentInfo(size: number): ModuleInfo {
  return {
    kind: 'component', size, imports: [], exports: [], memories: [], tables: [], globals: 0,
    functions: { imported: 0, defined: 0 }, tags: { imported: 0, defined: 0 }, start: null, customSections: [], wasi: null, functionNames: new Map(),
  };
}

