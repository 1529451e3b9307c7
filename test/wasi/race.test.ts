// Two guests sharing one preopen race isola's path resolution: one renames a real directory and
// a symlink `d -> ..` in and out of the name `d`, the other keeps using `d/secret.txt`. A resolver
// that lstat()s each component and then hands the host the whole path can lose the race (the
// kernel follows `d` if it became the symlink in between). The swapper is not a host process but
// a second guest: two `isola run` on one --dir, or two instances of a function in a pool.
// isola walks paths descriptor by descriptor through /proc/self/fd, so neither an open nor a
// rename (which stands for every call that names an entry) ever follows a swapped component.
// (Before that, the attacker won within a fraction of a second; 50k attempts are plenty.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgs, spawnIsola } from './helpers.js';
import type { GuestRun } from './helpers.js';
import { CLI } from '../helpers/root.js';
import { makeSandbox } from './sandbox.js';

/**
 * Waits until the host has seen the swapper put both a directory and a symlink at `d`: proof that it is
 * swapping (a swapper that failed to start would make the attack prove nothing).
 */
async function seesSwapping(box: string, ms = 15_000): Promise<boolean> {
  const seen = { dir: false, link: false };
  for (const end = Date.now() + ms; Date.now() < end && !(seen.dir && seen.link);) {
    for (let i = 0; i < 1000; i++) {
      try {
        const st = lstatSync(join(box, 'd'));
        if (st.isDirectory()) seen.dir = true;
        if (st.isSymbolicLink()) seen.link = true;
      } catch { /* between renames */ }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return seen.dir && seen.link;
}

async function race(mode: 'read' | 'steal'): Promise<void> {
  const sb = makeSandbox();
  const dirs = [{ host: sb.box, guest: '/' }];
  const swapRun: GuestRun = { guest: 'race', args: ['swap', '100000000'], dirs };
  const swapper = spawn(process.execPath, [CLI, ...cliArgs(swapRun)], { stdio: 'ignore' });
  try {
    assert.ok(await seesSwapping(sb.box), 'the swapper never swapped d between a directory and a symlink');
    const attacker = spawnIsola(cliArgs({ guest: 'race', args: [mode, '50000'], dirs }));
    assert.equal(attacker.code, 0, attacker.stderr);
    assert.match(attacker.stdout, mode === 'read' ? /^opened: 0$/m : /^moved: 0$/m);
    assert.ok(await seesSwapping(sb.box), 'the swapper stopped before the attack ended');
    sb.assertNoLeak(attacker.stdout);
    assert.ok(existsSync(sb.secretPath), 'the secret was moved out of its directory');
  } finally {
    if (swapper.exitCode === null) {
      swapper.kill();
      await once(swapper, 'exit');
    }
    sb.remove();
  }
}

test('cli: a guest racing another guest on a shared preopen cannot open a file outside it',
  { skip: process.platform !== 'linux' ? 'needs /proc/self/fd' : false }, () => race('read'));

test('cli: a guest racing another guest on a shared preopen cannot rename a file in from outside',
  { skip: process.platform !== 'linux' ? 'needs /proc/self/fd' : false }, () => race('steal'));
