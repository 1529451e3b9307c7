/**
 * `--dir HOST[::GUEST]`, `--dir-ro HOST[::GUEST]` and `--env NAME[=VALUE]`: the only ways a guest
 * gets files or environment. `--env NAME` copies the host's value (it must be set).
 */
import { statSync } from 'node:fs';
import type { Preopen } from '../capabilities/wasi-p1/index.js';
import { IsolaError } from '../errors.js';

/** `preopens` in command-line order: guests that number preopens by fd see them as wasmtime would give them. */
export interface GrantFlags { preopens?: Array<{ spec: string; readOnly: boolean }>; env?: string[] }
export interface Grants { preopens: Preopen[]; env: Record<string, string> }

/** The syntax alone (`isola deploy` leaves the directory check to the server, whose paths they are). */
export function parsePreopenSpec(spec: string, readOnly: boolean): { hostPath: string; guestPath: string } {
  const sep = spec.indexOf('::');
  const hostPath = sep < 0 ? spec : spec.slice(0, sep);
  const guestPath = sep < 0 ? spec : spec.slice(sep + 2);
  if (!hostPath || !guestPath) throw new IsolaError('USAGE', `${readOnly ? '--dir-ro' : '--dir'} '${spec}': expected HOST or HOST::GUEST`);
  return { hostPath, guestPath };
}

function preopen(spec: string, readOnly: boolean): Preopen {
  const { hostPath, guestPath } = parsePreopenSpec(spec, readOnly);
  const flag = readOnly ? '--dir-ro' : '--dir';
  let isDir = false;
  try {
    isDir = statSync(hostPath).isDirectory();
  } catch {
    throw new IsolaError('USAGE', `${flag} '${spec}': ${hostPath} does not exist`);
  }
  if (!isDir) throw new IsolaError('USAGE', `${flag} '${spec}': ${hostPath} is not a directory`);
  return readOnly ? { hostPath, guestPath, readOnly } : { hostPath, guestPath };
}

function envEntry(spec: string, env: Record<string, string>): void {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  if (!/^[^=\0]+$/.test(name)) throw new IsolaError('USAGE', `--env '${spec}': expected NAME or NAME=VALUE`);
  if (eq >= 0) {
    env[name] = spec.slice(eq + 1);
    return;
  }
  const inherited = process.env[name];
  if (inherited === undefined) throw new IsolaError('USAGE', `--env ${name}: not set in isola's environment (use --env ${name}=VALUE)`);
  env[name] = inherited;
}

export function grantsFromFlags(flags: GrantFlags): Grants {
  const preopens = (flags.preopens ?? []).map((p) => preopen(p.spec, p.readOnly));
  const env: Record<string, string> = {};
  for (const e of flags.env ?? []) envEntry(e, env);
  return { preopens, env };
}
