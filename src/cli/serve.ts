/**
 * `isola serve`: the function server in the foreground. `isola serve MODULE` serves that one module on every
 * path (as `wasmtime serve`); in a folder with an isola.toml it serves that manifest; otherwise it starts empty
 * and takes deploys. SIGTERM/SIGINT drain in-flight requests (up
 * to --drain-timeout) and exit 0. The human lines go to stderr; stdout carries the JSON logs.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Isolation } from '../cells/types.js';
import { IsolaError } from '../errors.js';
import { parseDuration, parseDurationOrZero } from '../engine/units.js';
import { DEFAULT_LISTEN, isLoopback, parseListen } from '../server/listen-address.js';
import { parseIsolation, positiveInt, routeUrl } from './deploy.js';
import { ADMIN_URL_FILE } from './server-flags.js';

export interface ServeFlags {
  listen?: string;
  adminListen?: string;
  dataDir?: string;
  adminToken?: string;
  isolation?: string;
  allowDir?: string[];
  allowIsolation?: string[];
  logLevel?: string;
  drainTimeout?: string;
  sendTimeout?: string;
  maxConnections?: string;
  manifest?: string;
  runtimeConfig?: string;
  kv?: string[];
  idleTimeout?: string;
  spareCells?: string;
  maxFunctions?: string;
  maxTenants?: string;
  cluster?: string;
  clusterName?: string;
  nodeId?: string;
}

/** Warm spares are jailed processes: a number beyond this is a typo, not a plan. */
const MAX_SPARE_CELLS = 1024;

/** --spare-cells N: a whole number from 0 to MAX_SPARE_CELLS. */
function spareCells(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n <= MAX_SPARE_CELLS)) throw new IsolaError('USAGE', `invalid spare cells '${text}' (expected a whole number from 0 to ${MAX_SPARE_CELLS})`);
  return n;
}

/** Quick mode's module, checked before the server loads (a one-line error for a path that is not a file). */
function modulePath(path: string | undefined, manifestFlag: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (manifestFlag !== undefined) throw new IsolaError('USAGE', 'give a module or --manifest, not both');
  if (!existsSync(path)) throw new IsolaError('IO', `cannot read ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new IsolaError('IO', `cannot read ${path}: is a directory (isola serve takes a .wasm module)`);
  return resolve(path);
}

type ServerModule = typeof import('../server/index.js');
type ClusterModule = typeof import('../cluster/index.js');

export const DEFAULT_DATA_DIR = '.isola';
const MANIFEST = 'isola.toml';
const DEFAULT_DRAIN_MS = 10_000;

/**
 * The server comes from the library (dist/src/server/), not from the CLI bundle: cells start workers
 * and jailed agents from files next to their own modules, which a bundle would not have. The bundle
 * (dist/bundle/cli/) sits as deep as dist/src/cli/, so the same relative URL works from both.
 */
async function loadServer(): Promise<ServerModule> {
  const library = new URL('../../src/server/index.js', import.meta.url).href;
  return import(library) as Promise<ServerModule>;
}

/** The cluster layer, from the library too (it drives the same orchestrator the server made). */
async function loadCluster(): Promise<ClusterModule> {
  const library = new URL('../../src/cluster/index.js', import.meta.url).href;
  return import(library) as Promise<ClusterModule>;
}

function logLevel(server: ServerModule, text: string): ServerModule['LOG_LEVELS'][number] {
  const found = server.LOG_LEVELS.find((l) => l === text);
  if (!found) throw new IsolaError('USAGE', `invalid log level '${text}' (expected ${server.LOG_LEVELS.join(', ')})`);
  return found;
}

/** The manifest to serve: --manifest, else ./isola.toml when present, else none (start empty). */
function manifestPath(flag: string | undefined): string | undefined {
  if (flag !== undefined) {
    if (!existsSync(flag)) throw new IsolaError('IO', `cannot read ${flag}: no such file`);
    if (statSync(flag).isDirectory()) throw new IsolaError('IO', `cannot read ${flag}: is a directory (--manifest takes an isola.toml)`);
    return resolve(flag);
  }
  return existsSync(MANIFEST) ? resolve(MANIFEST) : undefined;
}

function existingFile(path: string, what: string): string {
  if (!existsSync(path)) throw new IsolaError('IO', `cannot read ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new IsolaError('IO', `cannot read ${path}: is a directory (${what})`);
  return resolve(path);
}

/** Quick mode keeps no state unless --data-dir says where: a data directory of its own, removed at exit. */
function scratchDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'isola-serve-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The data directory, made here so a path that cannot be one is a one-line error naming the flag. */
function dataDir(flag: string | undefined): string {
  const dir = resolve(flag ?? DEFAULT_DATA_DIR);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOTDIR' || err.code === 'EEXIST' ? 'a file is in the way' : err.code === 'EACCES' ? 'permission denied' : err.code ?? err.message;
    throw new IsolaError('IO', `cannot create the data directory ${dir}: ${why}`);
  }
  if (!statSync(dir).isDirectory()) throw new IsolaError('IO', `cannot use ${dir} as the data directory: not a directory`);
  return dir;
}

/**
 * The library's IsolaError is not the bundle's class (two copies of errors.ts), so `instanceof` fails
 * across that boundary; re-create it here so a bad manifest or a busy port stays a one-line error.
 */
function ownError(e: unknown): unknown {
  if (e instanceof IsolaError || !(e instanceof Error) || e.name !== 'IsolaError') return e;
  const { code, detail } = e as unknown as { code: IsolaError['code']; detail?: Record<string, unknown> };
  return new IsolaError(code, e.message, detail ?? {});
}

/** `--allow-isolation process,worker` (repeatable): the isolations deploys may ask for. */
function allowedIsolations(lists: string[] | undefined): Isolation[] | undefined {
  if (lists === undefined) return undefined;
  const all = lists.flatMap((l) => l.split(',')).map((t) => t.trim());
  if (all.some((t) => t === '')) throw new IsolaError('USAGE', `invalid --allow-isolation '${lists.join(',')}' (expected a list like process,worker)`);
  return [...new Set(all.map(parseIsolation))];
}

/** One stderr line when the admin API can be reached from other machines. */
function networkWarning(listen: string, adminListen: string | undefined): string | undefined {
  const [flag, address] = adminListen === undefined ? ['--listen', listen] : ['--admin-listen', adminListen];
  if (isLoopback(parseListen(address).host)) return undefined;
  const fix = adminListen === undefined ? '; use --admin-listen 127.0.0.1:PORT to serve it on this machine only' : '';
  return `isola: warning: the admin API is reachable from the network (${flag} ${address})${fix}`;
}

export async function serveCommand(flags: ServeFlags, module?: string): Promise<number> {
  // The flags that need no server code are checked before loading it (it takes a while).
  const listen = flags.listen ?? DEFAULT_LISTEN;
  parseListen(listen);
  if (flags.adminListen !== undefined) parseListen(flags.adminListen, '--admin-listen address');
  if (flags.adminToken !== undefined && flags.adminToken.trim().length < 16) {
    throw new IsolaError('USAGE', '--admin-token must be at least 16 characters');
  }
  const drainMs = flags.drainTimeout === undefined ? DEFAULT_DRAIN_MS : parseDuration(flags.drainTimeout, 'drain timeout');
  const sendTimeoutMs = flags.sendTimeout === undefined ? undefined : parseDuration(flags.sendTimeout, 'send timeout');
  const maxConnections = flags.maxConnections === undefined ? undefined : positiveInt(flags.maxConnections, 'max connections');
  const density = {
    ...(flags.idleTimeout !== undefined && { idleTimeoutMs: parseDurationOrZero(flags.idleTimeout, 'idle timeout') }),
    ...(flags.spareCells !== undefined && { spareCells: spareCells(flags.spareCells) }),
    ...(flags.maxFunctions !== undefined && { maxFunctions: positiveInt(flags.maxFunctions, 'max functions') }),
    ...(flags.maxTenants !== undefined && { maxTenants: positiveInt(flags.maxTenants, 'max tenants') }),
  };
  const defaultIsolation = flags.isolation === undefined ? undefined : parseIsolation(flags.isolation);
  const allowIsolations = allowedIsolations(flags.allowIsolation);
  const quick = modulePath(module, flags.manifest);
  if (flags.kv !== undefined && quick === undefined) throw new IsolaError('USAGE', '--kv grants stores to the module of quick mode (isola serve MODULE --kv NAME); a manifest grants them with key-value-stores');
  const manifest = quick === undefined ? manifestPath(flags.manifest) : undefined;
  const server = await loadServer();
  try {
    // The cluster to join: the flags over isola.toml's [cluster] (checked before anything opens); none, none.
    const clusterFlags = flags.cluster !== undefined || flags.clusterName !== undefined || flags.nodeId !== undefined
      ? { url: flags.cluster, name: flags.clusterName, nodeId: flags.nodeId } : undefined;
    let cluster;
    if (clusterFlags !== undefined || manifest !== undefined) {
      const lib = await loadCluster();
      const settings = lib.clusterSettings(clusterFlags, manifest);
      if (settings !== undefined) cluster = lib.clusterJoiner(settings);
    }
    const options = {
      listen,
      adminListen: flags.adminListen,
      manifestPath: manifest,
      modulePath: quick,
      runtimeConfigPath: flags.runtimeConfig === undefined ? undefined : existingFile(flags.runtimeConfig, '--runtime-config takes a TOML file'),
      quickKeyValueStores: flags.kv,
      dataDir: quick !== undefined && flags.dataDir === undefined ? scratchDataDir() : dataDir(flags.dataDir),
      adminToken: flags.adminToken?.trim(),
      defaultIsolation,
      allowDirs: flags.allowDir,
      allowIsolations,
      sendTimeoutMs,
      maxConnections,
      ...density,
      ...(cluster !== undefined ? { cluster } : {}),
      logLevel: flags.logLevel === undefined ? undefined : logLevel(server, flags.logLevel),
    };
    const running = await server.startServer(options);
    server.drainOnSignal(running, drainMs);
    // Where the admin commands run in this folder find the admin API (as they find the token).
    writeFileSync(join(options.dataDir, ADMIN_URL_FILE), `${running.adminUrl}\n`, { mode: 0o600 });
    const source = quick ?? manifest;
    const lines = [`isola: serving ${running.url}${source ? ` (${source})` : ' (no isola.toml: waiting for deploys)'}`];
    for (const f of running.orchestrator.list()) lines.push(`isola:   ${f.name} → ${routeUrl(f.route, running.url)}`);
    if (running.cluster) {
      const up = running.cluster.nodes().filter((n) => n.state === 'up').length;
      lines.push(`isola: node ${running.cluster.node} of cluster "${running.cluster.cluster}" (${up} node${up === 1 ? '' : 's'} up so far)`);
    }
    if (running.adminUrl !== running.url) lines.push(`isola: admin API on ${running.adminUrl} (not on ${running.url})`);
    const warning = networkWarning(listen, flags.adminListen);
    if (warning) lines.push(warning);
    if (running.tokenWasGenerated) {
      lines.push(`isola: admin token (shown once; stored in ${resolve(options.dataDir, server.TOKEN_FILE)}): ${running.adminToken}`);
    }
    process.stderr.write(`${lines.join('\n')}\n`);
    return 0; // the listening server keeps the process alive; drainOnSignal ends it
  } catch (e) {
    throw ownError(e);
  }
}
