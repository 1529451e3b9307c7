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
//    StarlingMonkey implements (the 0.2.x interfaces it uses are the same).
// Usage: node scripts/build-components.mjs
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

const wabt = await wabtInit();
for (const file of readdirSync(join(dir, 'src')).filter((f) => f.endsWith('.wat')).sort()) {
  const name = file.slice(0, -4);
  const core = wabt.parseWat(file, readFileSync(join(dir, 'src', file), 'utf8')).toBinary({}).buffer;
  const witSource = readFileSync(join(dir, 'src', `${name}.wit`), 'utf8');
  const world = /^world\s+([\w-]+)/m.exec(witSource)[1];
  const component = await componentNew(await componentEmbed({ binary: core, witSource, world }), undefined);
  writeFileSync(join(dir, `${name}.wasm`), component);
  console.log(`${name}.wasm`.padEnd(18), component.length, 'bytes');
}

const tmp = mkdtempSync(join(tmpdir(), 'isola-jco-'));
try {
  const tarball = execFileSync('npm', ['pack', JCO, '--silent'], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', tarball, 'package/lib/wasi_snapshot_preview1.command.wasm'], { cwd: tmp });
  const adapter = readFileSync(join(tmp, 'package/lib/wasi_snapshot_preview1.command.wasm'));
  execFileSync('tar', ['-xzf', tarball, 'package/lib/wit/builtin/0.2.12'], { cwd: tmp });
  buildFetchHandler(join(tmp, 'package/lib/wit/builtin/0.2.12'), join(tmp, 'fetch-wit'));
  for (const name of COMMANDS) {
    const core = readFileSync(join(root, 'test/fixtures/wasi', `${name}.wasm`));
    const component = await componentNew(core, [['wasi_snapshot_preview1', adapter]]);
    writeFileSync(join(dir, `cmd-${name}.wasm`), component);
    console.log(`cmd-${name}.wasm`.padEnd(18), component.length, 'bytes');
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** componentize-js over src/fetch-handler.js; `wasiWit`: jco's WASI WIT packages, one folder each. */
function buildFetchHandler(wasiWit, witDir) {
  mkdirSync(join(witDir, 'deps'), { recursive: true });
  for (const pkg of readdirSync(wasiWit)) {
    mkdirSync(join(witDir, 'deps', pkg));
    for (const f of readdirSync(join(wasiWit, pkg))) {
      writeFileSync(join(witDir, 'deps', pkg, f), readFileSync(join(wasiWit, pkg, f), 'utf8').replaceAll('@0.2.12', `@${CJS_WASI}`));
    }
  }
  writeFileSync(join(witDir, 'world.wit'), `package isola:fetch-handler;\n\nworld fetch-handler {\n  export wasi:http/incoming-handler@${CJS_WASI};\n}\n`);
  const out = join(witDir, 'fetch-handler.wasm');
  execFileSync('npm', ['exec', '--yes', `--package=${CJS}`, '--', 'componentize-js', join(dir, 'src/fetch-handler.js'), '--wit', witDir,
    '-n', 'fetch-handler', '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const gz = gzipSync(readFileSync(out), { level: 9 });
  writeFileSync(join(dir, 'fetch-handler.wasm.gz'), gz);
  console.log('fetch-handler.wasm.gz'.padEnd(18), gz.length, 'bytes');
}

execFileSync('npm', ['exec', '--yes', `--package=${QJS}`, '--', 'componentize-qjs', '--wit', join(dir, 'src/js-guest.wit'),
  '--js', join(dir, 'src/js-guest.js'), '--sync', '--opt-size', '-o', join(dir, 'js-guest.wasm')], { stdio: ['ignore', 'ignore', 'inherit'] });
console.log('js-guest.wasm'.padEnd(18), readFileSync(join(dir, 'js-guest.wasm')).length, 'bytes');
