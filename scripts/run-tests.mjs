// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// A script rather than a shell glob because Node 20 and Node 22+ treat `node --test <dir>` differently.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = collect('dist/test');
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('error: no test files found under dist/test');
  process.exit(1);
}
// Tests work in temp folders: anything new in the working folder afterwards (a diagnostic report.*.json,
// a stray .isola/) is a test leaving things behind, and fails the run.
const before = new Set(readdirSync('.'));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
const leftBehind = readdirSync('.').filter((name) => !before.has(name));
if (leftBehind.length) {
  console.error(`error: the tests left ${leftBehind.join(', ')} in ${process.cwd()}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
