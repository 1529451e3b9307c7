#!/usr/bin/env node
// Thin launcher: the CLI is compiled from TypeScript into dist/ by `npm install` (the prepare script).
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('error: isola is not built; run `npm install` (or `npm run build`) in its folder\n');
  } else {
    process.stderr.write(`error: ${err && err.message ? err.message : String(err)}\n`);
  }
  process.exitCode = 70;
});
