// Rebuilds the component fixtures in test/fixtures/components (committed, so tests need no toolchain):
//  - <name>.wasm from src/<name>.wat + src/<name>.wit: wabt compiles the core module, wasm-tools (from
//    @bytecodealliance/jco-transpile, a dependency) embeds the WIT world and makes the component;
//  - cmd-<name>.wasm from the C guest test/fixtures/wasi/<name>.wasm (WASI preview 1, built by
//    build-fixtures.sh) and the Bytecode Alliance's preview1-to-preview2 command adapter, which ships in
//    the @bytecodealliance/jco package: fetched here with `npm pack` into a temporary folder (not a dependency);
//  - js-guest.wasm from src/js-guest.js + src/js-guest.wit with componentize-qjs (QuickJS; run with npm exec,
//    not a dependency): another toolchain's component, importing the WASI 0.2 it runs on;
//  - fetch-handler.wasm.gz from src/fetch-handler.js with componentize-js (StarlingMonkey; npm exec): a wasi:http
//    handler written as a fetch event, ~13 MB (committed gzipped). Its world exports wasi:http/incoming-handler;
//    the WIT comes from the jco package (lib/wit/builtin/0.2.12), relabelled 0.2.10, the version this
//    StarlingMonkey implements (the 0.2.x interfaces it uses are the same);
//  - kv-fetch.wasm.gz from src/kv-fetch.js the same way, its world also importing wasi:keyvalue/store and atomics
//    @0.2.0-draft2 (the package as src/kv-handler.wit declares it, copied from WebAssembly/wasi-keyvalue 6630aef).
// Usage: node scripts/build-components.mjs [NAME...]   (NAME: a fixture's file name without .wasm/.wasm.gz,
// e.g. kv-fetch, cmd-hello, js-guest; none: all of them)
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { componentEmbed, componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'test/fixtures/components');
const JCO = '@bytecodealliance/jco@1.35.0';
const QJS = 'componentize-qjs@0.4.5';
const CJS = '@bytecodealliance/componentize-js@0.23.0';
const CJS_WASI = '0.2.10';
const COMMANDS = ['hello', 'env', 'cat', 'exit7', 'paths', 'trap', 'tree', 'clocks', 'rootops', 'stale-dirfd', 'readdir', 'readonly', 'two-dirs', 'wc'];

const only = process.argv.slice(2);
const wanted = (name) => only.length === 0 || only.includes(name);
/** The componentize-js handlers' worlds: wasi:http's incoming-handler (the fetch event), and what else they import. */
const HANDLER_WORLDS = {
  'fetch-handler': [],
  'kv-fetch': ['import wasi:keyvalue/store@0.2.0-draft2;', 'import wasi:keyvalue/atomics@0.2.0-draft2;', 'import fermyon:spin/key-value@2.0.0;'],
};
const JS_HANDLERS = Object.keys(HANDLER_WORLDS);
const known = [...readdirSync(join(dir, 'src')).filter((f) => f.endsWith('.wat')).map((f) => f.slice(0, -4)),
  ...COMMANDS.map((c) => `cmd-${c}`), ...JS_HANDLERS, 'js-guest'];
for (const name of only.filter((n) => !known.includes(n))) throw new Error(`no fixture ${name} (one of: ${known.join(', ')})`);

const wabt = await wabtInit();
for (const file of readdirSync(join(dir, 'src')).filter((f) => f.endsWith('.wat')).sort()) {
  const name = file.slice(0, -4);
  if (!wanted(name)) continue;
  const core = wabt.parseWat(file, readFileSync(join(dir, 'src', file), 'utf8')).toBinary({}).buffer;
  const witSource = readFileSync(join(dir, 'src', `${name}.wit`), 'utf8');
  const world = /^world\s+([\w-]+)/m.exec(witSource)[1];
  const component = await componentNew(await componentEmbed({ binary: core, witSource, world }), undefined);
  writeFileSync(join(dir, `${name}.wasm`), component);
  console.log(`${name}.wasm`.padEnd(18), component.length, 'bytes');
}

const tmp = mkdtempSync(join(tmpdir(), 'isola-jco-'));
try {
  const commands = COMMANDS.filter((name) => wanted(`cmd-${name}`));
  const handlers = JS_HANDLERS.filter(wanted);
  const tarball = commands.length + handlers.length === 0 ? undefined
    : execFileSync('npm', ['pack', JCO, '--silent'], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop();
  if (handlers.length > 0) execFileSync('tar', ['-xzf', tarball, 'package/lib/wit/builtin/0.2.12'], { cwd: tmp });
  for (const name of handlers) buildJsHandler(name, join(tmp, 'package/lib/wit/builtin/0.2.12'), join(tmp, `${name}-wit`));
  if (commands.length > 0) execFileSync('tar', ['-xzf', tarball, 'package/lib/wasi_snapshot_preview1.command.wasm'], { cwd: tmp });
  const adapter = commands.length > 0 ? readFileSync(join(tmp, 'package/lib/wasi_snapshot_preview1.command.wasm')) : undefined;
  for (const name of commands) {
    const core = readFileSync(join(root, 'test/fixtures/wasi', `${name}.wasm`));
    const component = await componentNew(core, [['wasi_snapshot_preview1', adapter]]);
    writeFileSync(join(dir, `cmd-${name}.wasm`), component);
    console.log(`cmd-${name}.wasm`.padEnd(18), component.length, 'bytes');
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** componentize-js over src/<name>.js; `wasiWit`: jco's WASI WIT packages, one folder each. */
function buildJsHandler(name, wasiWit, witDir) {
  mkdirSync(join(witDir, 'deps'), { recursive: true });
  for (const pkg of readdirSync(wasiWit)) {
    mkdirSync(join(witDir, 'deps', pkg));
    for (const f of readdirSync(join(wasiWit, pkg))) {
      writeFileSync(join(witDir, 'deps', pkg, f), readFileSync(join(wasiWit, pkg, f), 'utf8').replaceAll('@0.2.12', `@${CJS_WASI}`));
    }
  }
  const extra = HANDLER_WORLDS[name];
  if (extra.some((line) => line.includes('wasi:keyvalue/'))) {
    mkdirSync(join(witDir, 'deps', 'keyvalue'));
    writeFileSync(join(witDir, 'deps', 'keyvalue', 'keyvalue.wit'), keyvalueWit());
  }
  if (extra.some((line) => line.includes('fermyon:spin/'))) {
    mkdirSync(join(witDir, 'deps', 'spin'));
    writeFileSync(join(witDir, 'deps', 'spin', 'key-value.wit'), readFileSync(join(dir, 'src/spin-key-value.wit'), 'utf8'));
  }
  const imports = extra.map((line) => `  ${line}\n`).join('');
  writeFileSync(join(witDir, 'world.wit'), `package isola:${name};\n\nworld ${name} {\n${imports}  export wasi:http/incoming-handler@${CJS_WASI};\n}\n`);
  const out = join(witDir, `${name}.wasm`);
  execFileSync('npm', ['exec', '--yes', `--package=${CJS}`, '--', 'componentize-js', join(dir, 'src', `${name}.js`), '--wit', witDir,
    '-n', name, '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const raw = readFileSync(out);
  const gz = gzipSync(raw, { level: 9 });
  writeFileSync(join(dir, `${name}.wasm.gz`), gz);
  console.log(`${name}.wasm.gz`.padEnd(18), gz.length, 'bytes', `(${raw.length} unpacked)`);
}

/** wasi:keyvalue@0.2.0-draft2 as a package file of its own: the nested package src/kv-handler.wit declares. */
function keyvalueWit() {
  const source = readFileSync(join(dir, 'src/kv-handler.wit'), 'utf8');
  const head = 'package wasi:keyvalue@0.2.0-draft2 {';
  const start = source.indexOf(head);
  let depth = 0;
  for (let i = start + head.length - 1; i < source.length; i++) {
    if (source[i] === '{') depth++;
    else if (source[i] === '}' && --depth === 0) {
      return `package wasi:keyvalue@0.2.0-draft2;\n\n${source.slice(start + head.length, i).replace(/^\n/, '').replace(/^  /gm, '')}`;
    }
  }
  throw new Error('src/kv-handler.wit: no wasi:keyvalue@0.2.0-draft2 package');
}

if (wanted('js-guest')) {
  execFileSync('npm', ['exec', '--yes', `--package=${QJS}`, '--', 'componentize-qjs', '--wit', join(dir, 'src/js-guest.wit'),
    '--js', join(dir, 'src/js-guest.js'), '--sync', '--opt-size', '-o', join(dir, 'js-guest.wasm')], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log('js-guest.wasm'.padEnd(18), readFileSync(join(dir, 'js-guest.wasm')).length, 'bytes');
}
