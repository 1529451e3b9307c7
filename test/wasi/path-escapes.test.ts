// paths.wasm tries every path trick against a preopen: `..`, absolute paths, pre-existing and
// guest-made symlinks (chains, loops), hard links, renames, O_* flags. isola must refuse each
// escape with the errno wasmtime gives and nothing outside the preopen may leak or change.
// The expected values are what wasmtime 49 (cap-std) prints for this guest on Linux; where the
// issue allows either capability errno, ESCAPE accepts EPERM or ENOTCAPABLE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESCAPE, RUNNERS, assertResults, results, tempDir } from './helpers.js';
import type { Expect, RunResult } from './helpers.js';
import { makeSandbox } from './sandbox.js';

const INSIDE = 'OK inside\\n';
const DEEP = 'OK deep\\n';

const EXPECTED: Record<string, Expect> = {
  preopen: 'OK',
  inside: INSIDE,
  'dotdot-inside': INSIDE,
  dotdot: ESCAPE,
  'dotdot-deep': ESCAPE,
  'dotdot-many': ESCAPE,
  absolute: ESCAPE,
  'absolute-secret': ESCAPE,
  'symlink-root': ESCAPE,
  'symlink-root-nofollow': ESCAPE,
  'symlink-up': ESCAPE,
  'symlink-abs': ESCAPE,
  'symlink-inside': INSIDE,
  'open-root-link-dir': ESCAPE,
  'open-dotdot-dir': ESCAPE,
  // cap-std will not even read an absolute link's text.
  'readlink-root': ESCAPE,
  'chain-inside': INSIDE,
  'chain-out': ESCAPE,
  'chain-dir-inside': INSIDE,
  'chain-dir-out': ESCAPE,
  loop: 'ELOOP',
  'loop-self': 'ELOOP',
  'loop-dir': 'ELOOP',
  'nofollow-symlink': 'ELOOP',
  'nofollow-dir-symlink': ['ELOOP', 'ENOTDIR'],
  'nofollow-intermediate': DEEP,
  'odirectory-file': 'ENOTDIR',
  'oexcl-existing': 'EEXIST',
  'oexcl-symlink': 'EEXIST',
  'creat-through-symlink': ESCAPE,
  'creat-dotdot': ESCAPE,
  otrunc: 'OK size=0',
  'link-out-in': ESCAPE,
  // wasmtime does not support SYMLINK_FOLLOW on path_link (EINVAL); following out must fail anyway.
  'link-via-symlink': ['EINVAL', ...ESCAPE],
  'link-in-out': ESCAPE,
  'link-inside': 'OK',
  'read-stolen-link': 'ENOENT',
  'create-movable': 'OK',
  'rename-out': ESCAPE,
  'rename-out-symlink': ESCAPE,
  'rename-in': ESCAPE,
  'rename-in-symlink': ESCAPE,
  'rename-inside': 'OK',
  'unlink-out': ESCAPE,
  'unlink-via-symlink': ESCAPE,
  'mkdir-out': ESCAPE,
  'mkdir-via-symlink': ESCAPE,
  'rmdir-dotdot': ESCAPE,
  'stat-out': ESCAPE,
  'stat-symlink-root': ESCAPE,
  'settimes-out': ESCAPE,
  'open-sub': 'OK',
  'subfd-deep': DEEP,
  'subfd-dotdot-secret': ESCAPE,
  // cap-std makes every directory descriptor its own root, as wasmtime does.
  'subfd-dotdot-inside': ESCAPE,
  'trailing-slash-file': 'ENOTDIR',
  'empty-path': 'ENOENT',
  'dot-slashes': DEEP,
  // An absolute target is refused even when it names a file inside the preopen.
  'abs-symlink-inside': ESCAPE,
  'self-climb': ESCAPE,
  'self-inside': INSIDE,
  'sub-up-inside': INSIDE,
  'sub-up-climb': ESCAPE,
  'sub-up-twice': ESCAPE,
  'chain-20': INSIDE,
  'chain-100': 'ELOOP',
  'name-too-long': 'ENAMETOOLONG',
  // wasmtime applies the host's PATH_MAX (4096); resolving component by component needs no limit.
  'path-5000-dots': ['ENAMETOOLONG', INSIDE],
  'unlink-dir': 'EISDIR',
  'rmdir-file': 'ENOTDIR',
  'rmdir-symlink-to-dir': 'ENOTDIR',
  'unlink-symlink-out': 'OK',
  'after-unlink-up': 'ENOENT',
};

/** Guest-made symlinks may hold any relative text (creating one is OK; wasmtime refuses absolute
 *  targets), but following one out must fail; if one was not created, following finds nothing. */
function guestSymlinkExpectations(r: RunResult): Record<string, Expect> {
  const got = results(r.stdout);
  const out: Record<string, Expect> = {};
  const pairs = [['mk-escape-up', 'follow-escape-up'], ['mk-escape-etc', 'follow-escape-etc'],
    ['mk-escape-secret', 'follow-escape-secret'], ['mk-sub-escape', 'follow-sub-escape']] as const;
  for (const [mk, follow] of pairs) {
    out[mk] = mk === 'mk-escape-etc' ? ['OK', ...ESCAPE] : 'OK';
    out[follow] = got.get(mk) === 'OK' ? ESCAPE : 'ENOENT';
  }
  out['link-via-guest-symlink'] = ['EINVAL', ...ESCAPE];
  return out;
}

for (const [via, run] of RUNNERS) {
  test(`${via}: paths.wasm — every path trick is refused and nothing leaks`, () => {
    const sb = makeSandbox();
    try {
      const r = run({ guest: 'paths', args: [sb.secretPath], dirs: [{ host: sb.box, guest: '/sandbox' }] });
      assertResults(r, { ...EXPECTED, ...guestSymlinkExpectations(r) }, `${via}: `);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^done$/m);
      sb.assertNoLeak(r.stdout + r.stderr);
      sb.assertOutsideUntouched();
    } finally {
      sb.remove();
    }
  });
}

// rootops.wasm aims at the preopened directory itself; wasmtime 49's answers.
const ROOT_OPS: Record<string, Expect> = {
  'rmdir-dot': 'EINVAL', 'rmdir-e-dotdot': 'EINVAL', 'rmdir-dot-slash': 'EINVAL', 'unlink-dot': 'EISDIR',
  'rename-dot-away': 'EBUSY', 'rename-e-dotdot-away': 'EBUSY', 'rename-over-dot': 'EBUSY',
  'rename-over-e-dotdot': 'EBUSY', 'mkdir-dot': 'EEXIST', 'symlink-over-dot': 'EEXIST',
  'link-dot': ['EPERM', 'EISDIR'], 'rmdir-e': 'OK', 'unlink-f': 'OK', 'rmdir-dot-empty': 'EINVAL',
};

for (const [via, run] of RUNNERS) {
  test(`${via}: rootops.wasm — the preopened directory itself cannot be removed, renamed or replaced`, () => {
    const tmp = tempDir('rootops');
    try {
      const box = join(tmp.path, 'box');
      mkdirSync(join(box, 'e'), { recursive: true });
      writeFileSync(join(box, 'f'), '');
      const r = run({ guest: 'rootops', dirs: [{ host: box, guest: '/' }] });
      assertResults(r, ROOT_OPS, `${via}: `);
      assert.deepEqual(readdirSync(tmp.path), ['box']);
      assert.deepEqual(readdirSync(box), []);
    } finally {
      tmp.remove();
    }
  });
}

// stale-dirfd.wasm: a directory descriptor must keep naming the directory it opened after the
// guest renames it away and plants `d -> ..` under its old name (wasmtime 49's answers).
const STALE: Record<string, Expect> = {
  mkdir: 'OK', 'open-d': 'OK', 'rename-away': 'OK', 'plant-symlink': 'OK',
  'open-secret': 'ENOENT', 'stat-secret': 'ENOENT', readdir: 'OK . ..', 'mkdir-through': 'OK',
  steal: 'ENOENT', 'read-stolen': 'ENOENT',
};

for (const [via, run] of RUNNERS) {
  test(`${via}: stale-dirfd.wasm — a directory descriptor follows its directory, not its old name`, () => {
    const sb = makeSandbox();
    try {
      const r = run({ guest: 'stale-dirfd', dirs: [{ host: sb.box, guest: '/' }] });
      assertResults(r, STALE, `${via}: `);
      const top = (results(r.stdout).get('readdir-d-real') ?? '').split(' ').sort();
      assert.ok(top.includes('d') && top.includes('d_real'), r.stdout);
      sb.assertNoLeak(r.stdout + r.stderr);
      sb.assertOutsideUntouched();
      assert.ok(existsSync(join(sb.box, 'd_real', 'made')), 'mkdir through the descriptor went elsewhere');
    } finally {
      sb.remove();
    }
  });
}
