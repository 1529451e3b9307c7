/**
 * `--dir HOST[::GUEST]`, `--dir-ro HOST[::GUEST]` and `--env NAME[=VALUE]`: the only ways a guest
 * gets files or environment. `--env NAME` copies the host's value (it must be set).
 */
import { storeNameProblem } from '../capabilities/keyvalue/limits.js';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Preopen } from '../capabilities/wasi-p1/index.js';
import { IsolaError } from '../errors.js';

/** `preopens` in command-line order: guests that number preopens by fd see them as wasmtime would give them. */
export interface GrantFlags { preopens?: Array<{ spec: string; readOnly: boolean }>; env?: string[]; kv?: string[] }
/** `kv`: key-value stores granted by `--kv NAME[=PATH]`: name → its embedded store's directory. */
export interface Grants { preopens: Preopen[]; env: Record<string, string>; kv?: Map<string, string> }

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
  if (flags.kv === undefined || flags.kv.length === 0) return { preopens, env };
  return { preopens, env, kv: kvGrants(flags.kv) };
}

/** `--kv NAME[=PATH]`: an embedded store at PATH (default .isola/kv/NAME), granted as NAME. */
function kvGrants(specs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    const problem = storeNameProblem(name);
    if (problem !== null) throw new IsolaError('USAGE', `--kv '${spec}': ${problem}`);
    if (out.has(name)) throw new IsolaError('USAGE', `--kv ${name} is given twice`);
    const path = eq < 0 ? join('.isola', 'kv', name) : spec.slice(eq + 1);
    if (path === '') throw new IsolaError('USAGE', `--kv '${spec}': expected NAME=PATH with a directory path`);
    out.set(name, resolve(path));
  }
  return out;
}
