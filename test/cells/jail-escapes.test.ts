// The WASI path-escape guests of test/wasi/path-escapes.test.ts, run inside a `process` cell with
// isola's own path checks switched OFF (unsafeTestHooks.noPathChecks) and Node's permission model off:
// every `..`, absolute path and symlink now goes to the kernel as written, and only the jail's mount
// namespace (which holds nothing but the preopen) stands between the guest and the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCell } from '../../src/cells/index.js';
import { jailSupport } from '../../src/cells/jail/index.js';
import { makeSandbox, type Sandbox } from '../wasi/sandbox.js';
import { fixture, results } from '../wasi/helpers.js';
import { grantToJail } from '../helpers/jail-user.js';
import { readFileSync } from 'node:fs';

const support = jailSupport();
const skip = support.process ? false : `no jail on this machine: ${support.reasons.join('; ')}`;
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

/** Runs one WASI guest in a fresh unchecked process cell with `sb.box` preopened at `guestPath`. */
async function runUnchecked(sb: Sandbox, guest: string, args: string[], guestPath: string): Promise<string> {
  const preopens = [{ hostPath: sb.box, guestPath }];
  grantToJail(sb.box, true, sb.dir);
  const cell = await spawnCell({
    isolation: 'process', requireJail: true, preopens,
    unsafeTestHooks: { noPathChecks: true, noNodePermissions: true },
  });
  try {
    const module = await cell.load({ bytes: readFileSync(fixture(guest)) });
    const r = await cell.invoke({ module, kind: 'wasi', args: [guest, ...args], preopens, limits: { timeoutMs: 20_000 } });
    return text(r.output) + text(r.stderr);
  } finally {
    cell.kill();
  }
}

test('jail: with the path checks off, paths really reach the kernel unchecked (control)', { skip }, async () => {
  const sb = makeSandbox();
  try {
    const out = results(await runUnchecked(sb, 'cat', ['/sandbox/../box/inside.txt', '/sandbox/../secret.txt', '/sandbox/root/etc/passwd'], '/sandbox'));
    // Out of the preopen and back in: isola's resolver would refuse this; the kernel allows it.
    assert.equal(out.get('read /sandbox/../box/inside.txt'), 'OK inside\\n');
    // One level up is the jail's empty directory, not the host's: the secret next to the preopen is not there.
    assert.equal(out.get('read /sandbox/../secret.txt'), 'ENOENT');
    // The symlink to / lands in the jail's root, which has no /etc.
    assert.equal(out.get('read /sandbox/root/etc/passwd'), 'ENOENT');
  } finally {
    sb.remove();
  }
});

for (const [guest, guestPath] of [['paths', '/sandbox'], ['stale-dirfd', '/'], ['rootops', '/']] as const) {
  test(`jail: ${guest}.wasm with no path checks — the kernel refuses every escape, nothing leaks or changes outside`, { skip }, async () => {
    const sb = makeSandbox();
    try {
      const out = await runUnchecked(sb, guest, guest === 'paths' ? [sb.secretPath] : [], guestPath);
      assert.ok(results(out).size > 5, `the guest ran its cases:\n${out}`);
      sb.assertNoLeak(out);
      sb.assertOutsideUntouched();
      assert.ok(existsSync(sb.box), 'the preopened directory itself survived');
      assert.deepEqual(readdirSync(join(sb.dir)).sort(), ['box', 'secret.txt']);
    } finally {
      sb.remove();
    }
  });
}
