// The hostile file-system layout the escape tests attack:
//   <dir>/secret.txt          a random secret that must never reach a guest
//   <dir>/box/                the preopen
//     inside.txt  trunc.txt  sub/deep.txt
//     root -> /   up -> ..   out -> <dir> (absolute)   link_to_inside -> inside.txt
//     abs_inside -> <dir>/box/inside.txt (absolute, but inside)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

export interface Sandbox {
  dir: string;
  box: string;
  secretPath: string;
  secret: string;
  remove(): void;
  /** Asserts the guest's output holds neither the secret nor the host's /etc/passwd. */
  assertNoLeak(output: string): void;
  /** Asserts nothing outside the box was created, removed or changed. */
  assertOutsideUntouched(): void;
}

export const PASSWD_HEAD = (() => {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n')[0]!;
  } catch {
    return null;
  }
})();

export function makeSandbox(): Sandbox {
  const { path: dir, remove } = tempDir('sandbox');
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const secretPath = join(dir, 'secret.txt');
  const box = join(dir, 'box');
  writeFileSync(secretPath, `${secret}\n`);
  mkdirSync(join(box, 'sub'), { recursive: true });
  writeFileSync(join(box, 'inside.txt'), 'inside\n');
  writeFileSync(join(box, 'trunc.txt'), 'to be truncated\n');
  writeFileSync(join(box, 'sub', 'deep.txt'), 'deep\n');
  symlinkSync('/', join(box, 'root'));
  symlinkSync('..', join(box, 'up'));
  symlinkSync(dir, join(box, 'out'));
  symlinkSync('inside.txt', join(box, 'link_to_inside'));
  symlinkSync(join(box, 'inside.txt'), join(box, 'abs_inside'));
  return {
    dir, box, secretPath, secret, remove,
    assertNoLeak(output) {
      assert.ok(!output.includes(secret), 'the secret outside the preopen leaked into the output');
      if (PASSWD_HEAD) assert.ok(!output.includes(PASSWD_HEAD), 'the host /etc/passwd leaked into the output');
    },
    assertOutsideUntouched() {
      assert.deepEqual(readdirSync(dir).sort(), ['box', 'secret.txt'], 'files appeared or vanished next to the preopen');
      assert.equal(readFileSync(secretPath, 'utf8'), `${secret}\n`, 'the secret file changed');
    },
  };
}
