/**
 * What a cell sees from inside, asked by `isola doctor` (a PROBE frame): who it is, whether Node's permission
 * model fences it, whether it can reach the host over TCP, and what becomes of a file it makes in a read-write
 * preopen (written; refused a set-uid or set-gid bit). The kernel's view of the same process (namespaces,
 * seccomp, capabilities, mounts, cgroups) is read by the host from /proc/<pid>: the permission model, on in
 * every jailed cell, hides /proc/self from the agent itself.
 */
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';

export interface ProbeRequest {
  /** TCP endpoints of the host to try (each must fail inside a jail). */
  connect: { host: string; port: number }[];
  /** A read-write preopen to make files in. */
  dir?: string;
}

export interface ProbeReport {
  uid: number;
  gid: number;
  hostname: string;
  /** Whether Node's permission model is on, and what reading / and /etc/passwd gives ('read' or the error code). */
  permission: { model: boolean; readRoot: string; readPasswd: string };
  /** 'host:port' → 'connected' or the error code. */
  connect: Record<string, string>;
  /** Each file attempt in `dir` → 'done' or the error code. */
  files: Record<string, string>;
}

const CONNECT_TIMEOUT_MS = 2000;

const outcome = (fn: () => unknown, done = 'done'): string => {
  try {
    fn();
    return done;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    let socket: ReturnType<typeof connect>;
    try {
      socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    } catch (e) {
      resolve((e as { code?: string }).code ?? String(e));
      return;
    }
    const done = (result: string): void => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done('connected'));
    socket.once('timeout', () => done('ETIMEDOUT'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** The set-uid/set-gid attempts: every one must fail where a seccomp filter holds. */
function fileAttempts(dir: string): Record<string, string> {
  const file = `${dir}/probe-file`;
  const withFd = (fn: (fd: number) => void) => () => {
    const fd = openSync(file, 'r');
    try {
      fn(fd);
    } finally {
      closeSync(fd);
    }
  };
  return {
    'write': outcome(() => writeFileSync(file, 'written by the probe cell\n')),
    'chmod 4755': outcome(() => chmodSync(file, 0o4755)),
    'chmod 2755': outcome(() => chmodSync(file, 0o2755)),
    'fchmod 6755': outcome(withFd((fd) => fchmodSync(fd, 0o6755))),
    'open O_CREAT 04755': outcome(() => closeSync(openSync(`${dir}/probe-created`, 'w', 0o4755))),
    'mkdir 02755': outcome(() => mkdirSync(`${dir}/probe-dir`, 0o2755)),
  };
}

export async function probe(req: ProbeRequest): Promise<ProbeReport> {
  const perm = (process as { permission?: { has(scope: string, ref?: string): boolean } }).permission;
  const connects: Record<string, string> = {};
  for (const { host, port } of req.connect) connects[`${host}:${port}`] = await tryConnect(host, port);
  return {
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    hostname: hostname(),
    permission: {
      model: perm !== undefined,
      readRoot: outcome(() => readdirSync('/'), 'read'),
      readPasswd: outcome(() => readFileSync('/etc/passwd'), 'read'),
    },
    connect: connects,
    files: req.dir === undefined ? {} : fileAttempts(req.dir),
  };
}
