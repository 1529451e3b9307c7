// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// A script rather than a shell glob because Node 20 and Node 22+ treat `node --test <dir>` differently.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

// Run as root, process cells drop to the jail user (65534, or ISOLA_JAIL_USER) before the jail tool starts,
// and that user must reach this checkout (the agent bundle is mounted from it). In a folder it cannot enter
// (mktemp -d makes 0700) every process cell would fall back to a worker cell and the tests of the jail would
// fail one by one: say it once, up front.
function jailUserBlocked() {
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v bwrap'], { stdio: 'ignore' }).status !== 0) return null;
  const [uid, gid] = (process.env.ISOLA_JAIL_USER ?? '65534:65534').split(':').map(Number);
  if (uid === 0) return null; // no drop: 0:0 is refused by isola itself, with its own message
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const bits = st.uid === uid ? st.mode >> 6 : st.gid === gid ? st.mode >> 3 : st.mode;
    if ((bits & 1) === 0) return dir;
    if (dirname(dir) === dir) return null;
  }
}
const blocked = jailUserBlocked();
if (blocked !== null) {
  console.error(`error: running as root, the jail user (${process.env.ISOLA_JAIL_USER ?? '65534:65534'}) cannot enter ${blocked} `
    + `(mode ${(statSync(blocked).mode & 0o777).toString(8)}), so no process cell could start from this checkout: `
    + `chmod o+x ${blocked} (or clone elsewhere), or set ISOLA_JAIL_USER to a user that can (see README, "Running as root")`);
  process.exit(1);
}

const filter = process.argv.slice(2);
let files = collect('dist/test');
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('error: no test files found under dist/test');
  process.exit(1);
}
// A file whose first line says `// isola-test: alone` measures speed against itself (a throughput ratio, a bound
// in wall time under contention it creates): other test files running beside it on a 2-core machine would be
// part of what it measures. Those run first, one at a time; every other file runs after, two at a time, and
// that run's summary ends the output.
const alone = files.filter((f) => readFileSync(f.replace(/^dist\//, '').replace(/\.js$/, '.ts'), 'utf8').startsWith('// isola-test: alone'));
const together = files.filter((f) => !alone.includes(f));
// Tests work in temp folders: anything new in the working folder afterwards (a diagnostic report.*.json,
// a stray .isola/) is a test leaving things behind, and fails the run.
const before = new Set(readdirSync('.'));
const run = (list, concurrency) => list.length === 0 ? 0
  : spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...list], { stdio: 'inherit' }).status ?? 1;
const aloneStatus = run(alone, 1);
const status = run(together, 2);
const leftBehind = readdirSync('.').filter((name) => !before.has(name));
if (leftBehind.length) {
  console.error(`error: the tests left ${leftBehind.join(', ')} in ${process.cwd()}`);
  process.exit(1);
}
if (aloneStatus !== 0) console.error(`error: a test run alone failed (${alone.join(', ')}): see its summary above`);
process.exit(status || aloneStatus);
