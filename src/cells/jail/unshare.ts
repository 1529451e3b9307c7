/**
 * The fallback jail where bubblewrap is missing: util-linux `unshare` builds the same namespaces and the
 * same file system, in two steps.
 *
 *  1. `unshare --user --map-root-user --mount --pid --fork --net --ipc --uts` runs SETUP as root of the
 *     new user namespace (root of nothing on the host): a tmpfs over an empty host directory becomes the
 *     new root; /proc (of the new PID namespace), a private /tmp, five /dev nodes and every mount are
 *     bound into it, each remounted nosuid (and nodev, but for the device nodes); the root is remounted
 *     read-only.
 *  2. SETUP execs a nested `unshare --user --map-user=65534 --root=ROOT`, which chroots into the root
 *     and execs node as uid 65534: the exec drops every capability.
 *
 * What it lacks next to bubblewrap: no seccomp filter (unshare cannot install one), so fork and the
 * other refused system calls stay possible inside the jail, and so does a set-uid bit on a file in a
 * read-write preopen (owned by the unprivileged host user the jail is, never root: as root, isola uses this
 * fallback only through `launchAs`, see host-user.ts); `isola doctor` says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsolaError } from '../../errors.js';
import { JAIL_UID } from './namespaces.js';
import { runtimeMounts, type Mount } from './mounts.js';
import { SHELL } from './rlimits.js';

const SETUP = [
  'set -e -f', // -f: no globbing of the unquoted lists below, which split on newlines only
  "nl='\n'; IFS=$nl",
  'R=$1; nd=$2; nf=$3; shift 3',
  'mount -t tmpfs -o mode=0755,nosuid,nodev isola-root "$R"',
  'mkdir "$R/proc" "$R/tmp" "$R/dev"',
  'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
  'mount -t tmpfs -o nosuid,nodev,mode=1777 isola-tmp "$R/tmp"',
  // mount points (after /tmp, so that preopens inside it get theirs in the private tmpfs): nd directories, then nf files (one mkdir and one touch for all of them)
  'dirs=""; i=0; while [ $i -lt "$nd" ]; do dirs="$dirs$nl$R$1"; shift; i=$((i+1)); done',
  'files=""; i=0; while [ $i -lt "$nf" ]; do files="$files$nl$R$1"; shift; i=$((i+1)); done',
  '[ -z "$dirs" ] || mkdir -p $dirs; [ -z "$files" ] || touch $files',
  'while [ "$1" != "--" ]; do',
  '  mount --bind "$2" "$R$3"',
  '  case $1 in ro) o=ro,nosuid,nodev ;; rw) o=nosuid,nodev ;; *) o=nosuid,noexec ;; esac', // *: a device node
  '  mount -o "remount,bind,$o" "$R$3"',
  '  shift 3',
  'done',
  'shift',
  'mount -o remount,bind,ro,nosuid,nodev "$R"',
  `exec unshare --user --map-user=${JAIL_UID} --map-group=${JAIL_UID} --root="$R" --wd=/ -- "$@"`,
].join('\n');

const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom'];

let rootDir: string | undefined;
/** An empty host directory the tmpfs root is mounted over (inside the jail's own mount namespace only). */
function emptyRoot(): string {
  if (rootDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'isola-jail-root-'));
    rootDir = dir;
    process.once('exit', () => {
      try {
        rmdirSync(dir);
      } catch {
        /* still a mount point in a dying jail, or gone */
      }
    });
  }
  return rootDir;
}

export interface UnshareInput {
  /** The argv prefix unshare is started through (jailSupport().launchAs), then unshare's own path. */
  launchAs: string[];
  unshare: string;
  mounts: Mount[];
  command: string[];
}

/** `[launchAs…] unshare …` argv (command first) that runs `command` inside the fallback jail. */
export function unshareCommand(input: UnshareInput): string[] {
  for (const m of input.mounts) {
    if (m.dest.includes('\n')) throw new IsolaError('JAIL', `cannot mount a path holding a newline: ${JSON.stringify(m.dest)}`);
  }
  const dev: Mount[] = DEV_NODES.map((d) => ({ src: `/dev/${d}`, dest: `/dev/${d}`, readOnly: false }));
  const mounts = [...dev, ...input.mounts];
  const dirs: string[] = [];
  const files: string[] = [];
  for (const m of mounts) {
    if (dev.includes(m)) files.push(m.dest);
    else if (statSync(m.src).isDirectory()) dirs.push(m.dest);
    else {
      dirs.push(m.dest.slice(0, m.dest.lastIndexOf('/')) || '/');
      files.push(m.dest);
    }
  }
  return [
    ...input.launchAs, input.unshare, '--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
    '--net', '--ipc', '--uts', '--', SHELL, '-c', SETUP, 'isola-jail-setup',
    emptyRoot(), String(dirs.length), String(files.length), ...dirs, ...files,
    ...mounts.flatMap((m) => [dev.includes(m) ? 'dev' : m.readOnly ? 'ro' : 'rw', m.childFd !== undefined ? `/proc/self/fd/${m.childFd}` : m.src, m.dest]),
    '--', ...input.command,
  ];
}

let probed: { ok: boolean; why: string } | undefined;
/** Whether the fallback jail works here, started through `launchAs`: starts `node -e 0` in it once (cached). */
export function probeUnshare(unshare: string, launchAs: string[]): { ok: boolean; why: string } {
  if (probed) return probed;
  const [cmd, ...args] = unshareCommand({ launchAs, unshare, mounts: runtimeMounts(), command: [process.execPath, '-e', '0'] });
  const r = spawnSync(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, env: {} });
  if (r.status === 0) return (probed = { ok: true, why: '' });
  const msg = r.error?.message ?? r.stderr.toString().trim().split('\n')[0];
  return (probed = { ok: false, why: msg || `exit ${r.status ?? r.signal}` });
}
