/**
 * Node's own permission model inside the jail (a third, in-process fence): reads of the agent bundle and
 * the preopens only, writes to read-write preopens only, no child processes, workers, addons or
 * node:wasi (none of --allow-child-process, --allow-worker, --allow-addons, --allow-wasi is given).
 * Node 25 added a network fence that also covers wrapping an inherited descriptor in a net.Socket, which is
 * how the agent reaches its protocol channel (fd 3): there `--allow-net` is given. Nothing is lost by it:
 * Node 20–24 had no network fence at all, and the jail's empty network namespace is the wall that holds.
 *
 * A fence, not a wall: Node documents that it does not hold against malicious code, and it has gaps (on
 * Node 20.20, three unrelated read grants make `readdirSync('/')` pass). The kernel's walls are the ones
 * the attack tests rely on; each attack also runs with this model switched off.
 */
import type { Mount } from './mounts.js';

/** `--permission` (Node ≥ 22.13/23.5) or `--experimental-permission` (Node 20–22); null before that. */
export function permissionFlag(): string | null {
  const flags = process.allowedNodeEnvironmentFlags;
  if (flags.has('--permission')) return '--permission';
  if (flags.has('--experimental-permission')) return '--experimental-permission';
  return null;
}

/**
 * The WASI layer addresses held directories as /proc/self/fd/N/<name> (see path-resolver.ts), so that
 * prefix must pass Node's check too. It only reaches descriptors the agent already holds — preopens —
 * and the kernel still enforces read-only mounts underneath.
 */
const FD_PATHS = '/proc/self/fd';

/** One flag per path: a directory grants everything below it; commas are not separators any more. */
const allow = (kind: 'read' | 'write', paths: string[]): string[] => paths.map((p) => `--allow-fs-${kind}=${p}`);

/** Node 20 prints an ExperimentalWarning for --experimental-permission on every start; the driver reads stderr. */
const quiet = (): string[] =>
  process.allowedNodeEnvironmentFlags.has('--disable-warning') ? ['--disable-warning=ExperimentalWarning'] : [];

/** The protocol channel needs it where Node fences the network (25+); before that the flag does not exist. */
const netGrant = (): string[] => (process.allowedNodeEnvironmentFlags.has('--allow-net') ? ['--allow-net'] : []);

export interface NodeFlagsInput {
  agent: Mount[];
  preopens: Mount[];
  /** V8 old-space cap in bytes when no cgroup caps the cell, else null. */
  heapLimitBytes: number | null;
  noNodePermissions: boolean;
}

export function jailNodeFlags(input: NodeFlagsInput): string[] {
  const flags: string[] = [];
  if (input.heapLimitBytes !== null) {
    flags.push(`--max-old-space-size=${Math.max(16, Math.floor(input.heapLimitBytes / (1 << 20)))}`);
  }
  const perm = permissionFlag();
  if (perm !== null && !input.noNodePermissions) {
    const writable = input.preopens.filter((m) => !m.readOnly).map((m) => m.dest);
    flags.push(perm, ...quiet(), ...netGrant(),
      ...allow('read', [...input.agent.map((m) => m.dest), ...input.preopens.map((m) => m.dest), FD_PATHS]),
      ...allow('write', writable.length > 0 ? [...writable, FD_PATHS] : []));
  }
  return flags;
}
