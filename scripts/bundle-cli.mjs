// Runs after `tsc` (npm's postbuild): esbuild puts the command line, commander included, into one
// ES module, dist/bundle/cli/isola.js, which bin/isola.js loads.
//
// Why: on Node 20 every ES module costs ~0.3 ms to resolve, read, compile and link, and `isola run`
// would load ~45 of them (and commander another ~11 ms unbundled) — too many for the start-up
// target (within 1.3x of plain node running node:wasi). The library, dist/src/index.js, is not
// bundled. Code that main.ts and run.ts load with `import()` stays lazy: esbuild wraps it in a
// function that runs on first use.
//
// The bundle sits as deep below the package root as tsc's dist/src/engine/, because
// engine/version.ts finds package.json through import.meta.url.
import { build } from 'esbuild';
import { codeFingerprint } from '../dist/src/engine/build-fingerprint.js';

// The engine's cache keys and artifacts carry a fingerprint of its code (src/engine/build-fingerprint.ts):
// bundles get it as a constant, the same value the unbundled files hash to.
const define = { __ISOLA_BUILD_FINGERPRINT__: JSON.stringify(codeFingerprint('dist/src')) };

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/bundle/cli/isola.js',
  bundle: true,
  platform: 'node', // node: builtins stay external
  format: 'esm',
  target: 'node20',
  define,
  // commander is CommonJS and calls require('node:events') and friends, which ESM lacks.
  banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
  // jco's transpiler finds its own .wasm files next to it (import.meta.url): loaded from node_modules, on
  // first use by a component only.
  // The key-value backends' clients (`isola run --kv`) load from node_modules too: lmdb finds its native
  // build from its own package.
  external: ['@bytecodealliance/*', 'lmdb', 'ioredis', 'nats'],
  logLevel: 'warning',
});

// The cell agents (src/cells/agent/): a process cell runs one file inside its jail, which mounts isola's
// built code read-only and no node_modules; one file also starts faster (fewer modules to load).
for (const [entry, out] of [['process-main', 'agent'], ['worker-main', 'worker']]) {
  await build({
    entryPoints: [`dist/src/cells/agent/${entry}.js`],
    outfile: `dist/bundle/cells/${out}.js`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    define,
    // A cell gets components lifted by its host: the transpiler is never loaded (nor mounted) inside one.
    external: ['@bytecodealliance/*'],
    logLevel: 'warning',
  });
}
