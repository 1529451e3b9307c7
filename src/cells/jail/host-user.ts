/**
 * Who a cell is on the host. bubblewrap and unshare map the jail's one uid (65534) onto the host uid that
 * starts them. Started by root, that made the jail host root: every file a cell wrote in a read-write preopen
 * belonged to root, and a cell that could chmod 4755 one left a set-uid-root program on the host. So when
 * isola runs as root, the launcher drops to an unprivileged host user before it starts the jail tool
 * (`setpriv --reuid --regid --clear-groups`, util-linux): 65534:65534 (nobody:nogroup) by default, or
 * ISOLA_JAIL_USER=UID:GID — better a dedicated user, since other daemons may run as nobody too.
 *
 * What that asks of the operator: that user must be able to reach (search every parent directory) and read
 * the agent bundle and each preopen, and write each read-write preopen (chown it to that user, or grant a
 * group or ACL it has); files a cell creates belong to it. Not root, isola needs nothing: the jail is the user
 * running isola and holds no more than that user.
 */
import { IsolaError } from '../../errors.js';

export interface HostUser {
  uid: number;
  gid: number;
}

/** The unprivileged host user a root isola drops to (ISOLA_JAIL_USER or 65534:65534). */
export function dropTarget(env: NodeJS.ProcessEnv = process.env): HostUser {
  const text = env['ISOLA_JAIL_USER'];
  if (text === undefined || text === '') return { uid: 65534, gid: 65534 };
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  const [uid, gid] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(uid > 0 && gid > 0 && uid < 2 ** 32 - 1 && gid < 2 ** 32 - 1)) {
    throw new IsolaError('JAIL', `ISOLA_JAIL_USER must be UID:GID of an unprivileged user (neither 0), got ${JSON.stringify(text)}`);
  }
  return { uid, gid };
}

/** The argv prefix that runs a command as `user` (setpriv also sets the saved uid, and drops every capability). */
export function dropArgs(setpriv: string, user: HostUser): string[] {
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'];
}

/** The host user this process is (where no drop happens, the jail is this user). */
export function currentUser(): HostUser {
  return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
}
