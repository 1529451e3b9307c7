/**
 * `isola deploy FILE --name N --route R [limits, grants] [--no-activate]`: uploads a module with its
 * manifest entry (the keys of an isola.toml `[function.NAME]` table) to a running `isola serve`.
 * Values are checked here with the same parsers as `isola run`, so a typo fails before the upload.
 */
import { resolve } from 'node:path';
import type { Isolation } from '../cells/types.js';
import { IsolaError } from '../errors.js';
import { parseDurationOrZero, parseSize } from '../engine/units.js';
import { tenantProblem } from '../orchestrator/function-name.js';
import { limitsFromFlags } from './limit-options.js';
import { formatBytes, progressBar } from './progress-bar.js';
import { readInputFile } from './read-input.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';
import { grantsFromFlags, parsePreopenSpec } from './wasi-grants.js';

export interface DeployFlags extends ServerFlags {
  name: string;
  route: string;
  fuel?: string;
  maxMemory?: string;
  timeout?: string;
  maxConcurrency?: string;
  maxBody?: string;
  env?: string[];
  /** --dir and --dir-ro in command-line order. */
  preopens?: Array<{ spec: string; readOnly: boolean }>;
  isolation?: string;
  /** --allow-outbound, repeatable: allowed-outbound-hosts (checked by the server's manifest rules). */
  allowOutbound?: string[];
  /** --kv, repeatable: key-value-stores (checked by the server's manifest rules). */
  kv?: string[];
  /** --tenant: the tenant label (the function-name rule). */
  tenant?: string;
  /** --idle-timeout: a duration, or 0 for never. */
  idleTimeout?: string;
  activate: boolean;
}

/** Every wall of the cells' contract: the Record type makes the compiler flag one added there and missing here. */
const WALLS: Record<Isolation, true> = { inline: true, worker: true, process: true };

export function parseIsolation(text: string): Isolation {
  if (!Object.hasOwn(WALLS, text)) throw new IsolaError('USAGE', `invalid isolation '${text}' (expected ${Object.keys(WALLS).join(', ')})`);
  return text as Isolation;
}

/** Where a route answers, for messages: `/static/...` → `http://host/static/`. */
export function routeUrl(route: string, base: string | URL): string {
  return new URL(route.replace(/\/\.\.\.$/, '/'), base).href;
}

export function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || !(Number(text) >= 1) || !Number.isSafeInteger(Number(text))) {
    throw new IsolaError('USAGE', `invalid ${what} '${text}' (expected a whole number of at least 1)`);
  }
  return Number(text);
}

/** The manifest entry, as isola.toml spells it (without `source`: the bytes travel as the body). */
export function manifestEntry(flags: DeployFlags): Record<string, unknown> {
  const limits = limitsFromFlags(flags); // validates --fuel, --max-memory, --timeout
  const entry: Record<string, unknown> = { route: flags.route };
  if (limits.fuel !== undefined) {
    if (limits.fuel > BigInt(Number.MAX_SAFE_INTEGER)) throw new IsolaError('USAGE', `invalid fuel '${flags.fuel}' (at most ${Number.MAX_SAFE_INTEGER} for a deployed function)`);
    entry.fuel = Number(limits.fuel);
  }
  if (flags.maxMemory !== undefined) entry['max-memory'] = flags.maxMemory.trim();
  if (flags.timeout !== undefined) entry.timeout = flags.timeout.trim();
  if (flags.maxConcurrency !== undefined) entry['max-concurrency'] = positiveInt(flags.maxConcurrency, 'max concurrency');
  if (flags.maxBody !== undefined) {
    parseSize(flags.maxBody, 'max body size');
    entry['max-body'] = flags.maxBody.trim();
  }
  const { env } = grantsFromFlags({ env: flags.env });
  if (Object.keys(env).length) entry.env = env;
  // Directories are the server's: checked there, not here. Relative paths mean the caller's folder.
  const files = (flags.preopens ?? []).map((p) => {
    const { hostPath, guestPath } = parsePreopenSpec(p.spec, p.readOnly);
    return { host: resolve(hostPath), guest: guestPath, 'read-only': p.readOnly };
  });
  if (files.length) entry.files = files;
  if (flags.isolation !== undefined) entry.isolation = parseIsolation(flags.isolation);
  if (flags.allowOutbound !== undefined) entry['allowed-outbound-hosts'] = flags.allowOutbound;
  if (flags.kv !== undefined) entry['key-value-stores'] = flags.kv;
  if (flags.tenant !== undefined) {
    const problem = tenantProblem(flags.tenant);
    if (problem !== null) throw new IsolaError('USAGE', problem);
    entry.tenant = flags.tenant;
  }
  if (flags.idleTimeout !== undefined) {
    parseDurationOrZero(flags.idleTimeout, 'idle timeout');
    entry['idle-timeout'] = flags.idleTimeout.trim();
  }
  return entry;
}

export async function deployCommand(file: string, flags: DeployFlags): Promise<number> {
  const entry = manifestEntry(flags);
  const client = adminClientFromFlags(flags);
  const bytes = readInputFile(file);
  const bar = progressBar();
  let result;
  try {
    result = await client.deploy(flags.name, entry, bytes, {
      activate: flags.activate,
      onUpload: (sent, total) => bar.upload(sent, total),
      onPhase: (phase) => bar.phase(phase),
    });
  } finally {
    bar.done();
  }
  const active = result.active === result.version.id;
  const url = routeUrl(flags.route, client.server);
  writeStdout(`deployed ${result.function} version ${result.version.id} (${formatBytes(result.version.size)})`
    + (active ? `, active at ${url}\n` : `, not active (active: ${result.active ?? 'none'}); switch with: isola activate ${result.function} ${result.version.id}\n`));
  return 0;
}
