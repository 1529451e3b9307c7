#!/usr/bin/env node
// Thin launcher for the CLI bundle that `npm install` builds (tsc, then esbuild: scripts/bundle-cli.mjs).
import('../dist/bundle/cli/isola.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bundle/cli/isola.js')) {
    process.stderr.write('error: isola is not built; run `npm install` (or `npm run build`) in its folder\n');
  } else {
    process.stderr.write(`error: ${err && err.message ? err.message : String(err)}\n`);
  }
  process.exitCode = 70;
});
