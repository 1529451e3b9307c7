// Installs the newest Node.js of one major version from the npm registry (the `node-linux-<arch>` packages,
// whose binary is bin/node) into .tools/node-<major>/ on first use, and prints that bin directory.
// CI runs the suite under several Nodes this way: `PATH="$(node scripts/node-tool.mjs 26):$PATH" npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const major = process.argv[2];
if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: node scripts/node-tool.mjs MAJOR   (e.g. 26)');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, '.tools', `node-${major}`);
const bin = join(dir, 'bin');
if (!existsSync(join(bin, 'node'))) {
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || !arch) {
    console.error(`error: no node-${process.platform}-${process.arch} package on the npm registry`);
    process.exit(1);
  }
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const pack = spawnSync('npm', ['pack', '--silent', `node-linux-${arch}@${major}`], { cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  if (pack.status !== 0 || !tgz) {
    console.error(`error: could not fetch node-linux-${arch}@${major} from the npm registry (npm exit ${pack.status})`);
    process.exit(1);
  }
  const untar = spawnSync('tar', ['xzf', tgz, '--strip-components=1'], { cwd: tmp, stdio: 'inherit' });
  if (untar.status !== 0 || !existsSync(join(tmp, 'bin', 'node'))) {
    console.error(`error: node-linux-${arch}@${major} unpacked without bin/node`);
    process.exit(1);
  }
  rmSync(join(tmp, tgz));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  console.error(`installed ${spawnSync(join(bin, 'node'), ['--version']).stdout.toString().trim()} into .tools/node-${major}`);
}
console.log(bin);
