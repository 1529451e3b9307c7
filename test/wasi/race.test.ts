// Two guests sharing one preopen race isola's path resolution: one renames a real directory and
// a symlink `d -> ..` in and out of the name `d`, the other keeps opening `d/secret.txt`. A
// resolver that lstat()s each component and then hands the host the whole path loses the race
// (the kernel follows `d` if it became the symlink in between) and the reader gets the secret.
// The issue accepts this residual race until the jailed cell (next issue); note that the swapper
// is not a host process but a second guest, e.g. two `isola run` on one --dir, or two instances
// of a function in a pool. Marked TODO so it reports without failing the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cliArgs, spawnIsola } from './helpers.js';
import type { GuestRun } from './helpers.js';
import { CLI } from '../helpers/root.js';
import { makeSandbox } from './sandbox.js';

test('cli: a guest racing another guest on a shared preopen cannot read outside it',
  { todo: 'residual TOCTOU race, closed by the jailed cell (see path-resolver.ts)' }, async () => {
    const sb = makeSandbox();
    const dirs = [{ host: sb.box, guest: '/' }];
    const swapRun: GuestRun = { guest: 'race', args: ['swap', '100000000'], dirs };
    const swapper = spawn(process.execPath, [CLI, ...cliArgs(swapRun)], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const reader = spawnIsola(cliArgs({ guest: 'race', args: ['read', '1000000'], dirs }));
      assert.equal(reader.code, 0, reader.stderr);
      sb.assertNoLeak(reader.stdout);
    } finally {
      if (swapper.exitCode === null) {
        swapper.kill();
        await once(swapper, 'exit');
      }
      sb.remove();
    }
  });
