// Runs after `tsc` (npm's postbuild): turns dist/src/cli/main.js, which bin/isola.js imports, into one
// file holding every module the CLI can load.
//
// Why: on Node 20 each ES module costs a fixed ~0.3 ms to resolve, read, compile and link, and
// `isola run` loads ~45 of them (CLI, engine, Wasm decoder, WASI), which alone misses the start-up
// target (within 1.3x of plain node running node:wasi). One file loads in one step.
//
// How: tsc's output is regular, so each module becomes a function in a registry, run on first
// use like CommonJS: `import {a, b as c} from './x.js'` → `const {a, b: c} = __load("x")`;
// `export function f` → `function f` plus a getter on the module's exports; `import('./x.js')` →
// a promise of `__load("x")`; `import.meta.url` → the module's own URL. It refuses (and leaves the
// unbundled main.js in place) anything it does not understand: import cycles, `export *`,
// `export let`, destructuring exports, non-literal dynamic imports. The library (dist/src/index.js)
// is not bundled; only the command line is.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
const SRC = join(ROOT, 'dist', 'src');
const ENTRY = 'cli/main.js';
const MARKER = '// isola CLI bundle (scripts/bundle-cli.mjs)';
// tsc's main.js is kept under this name, so bundling again (without tsc in between) still has its source.
const UNBUNDLED = 'cli/main.unbundled.js';
// `--out NAME` writes the bundle next to main.js under another name (for tests) and leaves main.js alone.
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? join('cli', process.argv[outArg + 1]) : ENTRY;

class Unsupported extends Error {}

const IMPORT = /^import\s+(?:([\w$]+)\s*,?\s*)?(?:\*\s+as\s+([\w$]+)|\{([^}]*)\})?\s*(?:from\s+)?(['"])([^'"]+)\4;?[ \t]*$/gm;
const REEXPORT = /^export\s+\{([^}]*)\}\s+from\s+(['"])([^'"]+)\2;?[ \t]*$/gm;
const LOCAL_EXPORT_LIST = /^export\s+\{([^}]*)\};?[ \t]*$/gm;
const EXPORT_DECL = /^export\s+(async\s+function\*?|function\*?|class|const|let|var)\s+([\w$]+)/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*(['"])([^'"]+)\1\s*\)/g;

/** `a, b as c` → [['a', 'a'], ['b', 'c']] (imported name, local name). */
function specifiers(list) {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const [from, to] = s.split(/\s+as\s+/);
    return [from.trim(), (to ?? from).trim()];
  });
}

const idOf = (fromId, spec) => normalize(join(dirname(fromId), spec));

function transform(id, source, externals) {
  const deps = new Set();
  const getters = [];
  const dependency = (spec) => {
    const dep = idOf(id, spec);
    if (!existsSync(join(SRC, dep))) throw new Unsupported(`${id}: cannot find ${spec}`);
    deps.add(dep);
    return JSON.stringify(dep);
  };
  const external = (spec) => {
    if (!externals.has(spec)) externals.set(spec, `__ext${externals.size}`);
    return externals.get(spec);
  };
  let body = source.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  if (/^export\s+\*/m.test(body)) throw new Unsupported(`${id}: export *`);
  if (/^export\s+(let|var)\s/m.test(body)) throw new Unsupported(`${id}: export let/var`);
  if (/^export\s+(const|let|var)\s*[[{]/m.test(body)) throw new Unsupported(`${id}: destructuring export`);
  if (/^export\s+default\b/m.test(body)) throw new Unsupported(`${id}: export default`);

  body = body.replace(REEXPORT, (_m, list, _q, spec) => {
    const from = spec.startsWith('.') ? `__load(${dependency(spec)})` : external(spec);
    for (const [name, as] of specifiers(list)) getters.push([as, `${from}.${name}`]);
    return '';
  });
  body = body.replace(IMPORT, (_m, def, ns, list, _q, spec) => {
    const from = spec.startsWith('.') ? `__load(${dependency(spec)})` : external(spec);
    const out = [];
    if (def) out.push(`const ${def} = ${from}.default;`);
    if (ns) out.push(`const ${ns} = ${from};`);
    if (list !== undefined) out.push(`const { ${specifiers(list).map(([a, b]) => (a === b ? a : `${a}: ${b}`)).join(', ')} } = ${from};`);
    if (!def && !ns && list === undefined) out.push(`${from};`);
    return out.join(' ');
  });
  if (/^import\s/m.test(body)) throw new Unsupported(`${id}: an import statement this script does not understand`);
  body = body.replace(LOCAL_EXPORT_LIST, (_m, list) => {
    for (const [name, as] of specifiers(list)) getters.push([as, name]);
    return '';
  });
  body = body.replace(EXPORT_DECL, (_m, kind, name) => {
    getters.push([name, name]);
    return `${kind} ${name}`;
  });
  if (/^export\s/m.test(body)) throw new Unsupported(`${id}: an export this script does not understand`);
  body = body.replace(DYNAMIC_IMPORT, (_m, _q, spec) => {
    if (!spec.startsWith('.')) throw new Unsupported(`${id}: dynamic import of ${spec}`);
    return `Promise.resolve().then(() => __load(${dependency(spec)}))`;
  });
  if (/\bimport\(/.test(body)) throw new Unsupported(`${id}: a non-literal dynamic import`);
  body = body.replace(/\bimport\.meta\.url\b/g, `__url(${JSON.stringify(id)})`);
  if (/\bimport\.meta\b/.test(body)) throw new Unsupported(`${id}: import.meta other than .url`);
  const exportsObject = getters.map(([name, expr]) => `${JSON.stringify(name)}: { get: () => ${expr}, enumerable: true }`).join(', ');
  return { body, deps, exportsObject };
}

function bundle() {
  const entryPath = join(SRC, ENTRY);
  let entrySource = readFileSync(entryPath, 'utf8');
  if (entrySource.startsWith(MARKER)) {
    if (!existsSync(join(SRC, UNBUNDLED))) throw new Unsupported(`${ENTRY} is a bundle and tsc's original is gone: run tsc first`);
    entrySource = readFileSync(join(SRC, UNBUNDLED), 'utf8');
  }
  else writeFileSync(join(SRC, UNBUNDLED), entrySource);
  const externals = new Map();
  const modules = new Map();
  const queue = [ENTRY];
  while (queue.length) {
    const id = queue.shift();
    if (modules.has(id)) continue;
    const source = id === ENTRY ? entrySource : readFileSync(join(SRC, id), 'utf8');
    const m = transform(id, source, externals);
    modules.set(id, m);
    queue.push(...m.deps);
  }
  // Static cycles would see half-initialised exports (CommonJS semantics); refuse them.
  const state = new Map();
  const visit = (id, path) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'active') throw new Unsupported(`import cycle: ${[...path, id].join(' -> ')}`);
    state.set(id, 'active');
    for (const dep of modules.get(id).deps) visit(dep, [...path, id]);
    state.set(id, 'done');
  };
  visit(ENTRY, []);

  const out = [MARKER, '// Generated after tsc; the unbundled modules sit next to it in dist/src/.'];
  for (const [spec, alias] of externals) out.push(`import * as ${alias} from ${JSON.stringify(spec)};`);
  out.push(
    'const __defs = new Map(), __done = new Map();',
    `const __base = new URL(${JSON.stringify(relative(dirname(entryPath), SRC) + '/')}, import.meta.url);`,
    'const __url = (id) => new URL(id, __base).href;',
    'function __load(id) {',
    '  let exports = __done.get(id);',
    '  if (!exports) { exports = {}; __done.set(id, exports); __defs.get(id)(exports); }',
    '  return exports;',
    '}',
  );
  for (const [id, m] of modules) {
    if (id === ENTRY) continue;
    out.push(`__defs.set(${JSON.stringify(id)}, (__exports) => {`, `Object.defineProperties(__exports, { ${m.exportsObject} });`, m.body, '});');
  }
  // The entry runs at the top level, so its top-level await keeps working.
  out.push(modules.get(ENTRY).body);
  const outPath = join(SRC, OUT);
  const tmp = `${outPath}.tmp`;
  writeFileSync(tmp, out.join('\n'));
  renameSync(tmp, outPath);
  return `${modules.size} modules`;
}

try {
  console.log(`bundle-cli: ${bundle()} → dist/src/${OUT}`);
} catch (e) {
  if (!(e instanceof Unsupported)) throw e;
  // The unbundled CLI works, only starts slower: say so, do not fail the build.
  console.error(`bundle-cli: not bundling (${e.message}); dist/src/${OUT} is left as it is`);
}
