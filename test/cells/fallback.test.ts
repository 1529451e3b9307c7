// Where no jail can be built, a `process` cell falls back to a worker and says so once per host process;
// with requireJail it refuses. A child process that believes it runs on macOS models such a host.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../helpers/root.js';

const script = `
Object.defineProperty(process, 'platform', { value: 'darwin' });
const { spawnCell } = await import(${JSON.stringify(pathToFileURL(fromRoot('dist/src/cells/index.js')).href)});
const walls = [];
for (let i = 0; i < 2; i++) {
  const cell = await spawnCell({ isolation: 'process' });
  walls.push(cell.isolation);
  cell.kill();
}
try {
  await spawnCell({ isolation: 'process', requireJail: true });
  walls.push('no error');
} catch (e) {
  walls.push(e.code + ': ' + e.message);
}
console.log(JSON.stringify(walls));
`;

test('no jail here: worker cells, one notice per host process; requireJail refuses', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const [a, b, refused] = JSON.parse(r.stdout) as string[];
  assert.equal(a, 'worker');
  assert.equal(b, 'worker');
  assert.match(refused!, /^JAIL: cannot build a jail for a process cell: namespaces are a Linux feature; this is darwin/);
  const notices = r.stderr.trim().split('\n');
  assert.equal(notices.length, 1, r.stderr);
  assert.match(notices[0]!, /^isola: process cells need a jail this machine cannot build \(.*darwin.*\); using worker cells instead$/);
});
