// A jailed cell is, on the host, the user jailSupport() names: the one running the tests, or (run as root) the
// unprivileged user the launcher drops to (see src/cells/jail/host-user.ts). A test that grants a cell a
// directory made by mkdtemp (mode 0700, owned by the test's user) must let that user in, as an operator would.
import { chmodSync, lchownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jailSupport } from '../../src/cells/jail/index.js';

/**
 * Lets the jail's host user reach and read `dir` (and every directory above it up to `top`, inclusive) and,
 * when `writable`, own everything under `dir` (to write it, as `chown -R` would).
 */
export function grantToJail(dir: string, writable: boolean, top = dir): void {
  const { hostUser } = jailSupport();
  for (let d = dir; ; d = join(d, '..')) {
    chmodSync(d, 0o755);
    if (d === top || d === '/') break;
  }
  if (!writable || hostUser.uid === process.getuid?.()) return;
  const own = (path: string): void => {
    lchownSync(path, hostUser.uid, hostUser.gid);
    for (const e of readdirSync(path, { withFileTypes: true })) {
      if (e.isDirectory()) own(join(path, e.name));
      else lchownSync(join(path, e.name), hostUser.uid, hostUser.gid);
    }
  };
  own(dir);
}
