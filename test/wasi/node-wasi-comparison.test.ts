// Why isola does not use node:wasi: the same guest, with its directory preopened as `/`, reads a
// secret outside that directory under node:wasi (through a pre-existing `root -> /`-style
// symlink, and through symlinks the guest makes itself), while isola refuses every read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ESCAPE, RUNNERS, assertResults, viaNodeWasi } from './helpers.js';
import type { GuestRun } from './helpers.js';
import { PASSWD_HEAD, makeSandbox } from './sandbox.js';
import type { Sandbox } from './sandbox.js';

// Two hops: `sub/up2 -> ..` is inside; `sub/up2/escdir -> ..` looks like `sub/escdir -> ..` (inside)
// to a lexical check, but is really created as `escdir -> ..` at the top, one level above the box.
const GUEST_MADE = ['--symlink', '..', '/sub/up2', '--symlink', '..', '/sub/up2/escdir'];

function escapeRun(sb: Sandbox): GuestRun {
  symlinkSync(sb.dir, join(sb.box, 'outside'));
  return {
    guest: 'cat',
    args: [...GUEST_MADE, '/escdir/secret.txt', '/outside/secret.txt', '/root/etc/passwd', '/inside.txt'],
    dirs: [{ host: sb.box, guest: '/' }],
  };
}

test('node:wasi leaks the secret and /etc/passwd through symlinks (why isola implements WASI itself)', () => {
  const sb = makeSandbox();
  try {
    const r = viaNodeWasi(escapeRun(sb));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^read /escdir/secret.txt: OK ${sb.secret}`, 'm'), 'guest-made symlink escape');
    assert.match(r.stdout, new RegExp(`^read /outside/secret.txt: OK ${sb.secret}`, 'm'), 'pre-existing symlink escape');
    if (PASSWD_HEAD) assert.ok(r.stdout.includes(`read /root/etc/passwd: OK ${PASSWD_HEAD}`), r.stdout);
  } finally {
    sb.remove();
  }
});

for (const [via, run] of RUNNERS) {
  test(`${via}: isola refuses the same guest and nothing leaks`, () => {
    const sb = makeSandbox();
    try {
      const r = run(escapeRun(sb));
      assert.equal(r.code, 0, r.stderr);
      assertResults(r, {
        'read /escdir/secret.txt': [...ESCAPE, 'ENOENT'],
        'read /outside/secret.txt': ESCAPE,
        'read /root/etc/passwd': ESCAPE,
        'read /inside.txt': 'OK inside\\n',
      }, `${via}: `);
      sb.assertNoLeak(r.stdout + r.stderr);
    } finally {
      sb.remove();
    }
  });
}
