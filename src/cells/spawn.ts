/**
 * spawnCell: one cell of the requested isolation, ready to load modules. `process` asks the jail for a
 * launch plan; where this machine cannot build a jail, or the jail cannot start a cell, it falls back to
 * `worker` (one stderr line per host process) unless `requireJail`.
 */
import { IsolaError } from '../errors.js';
import type { AgentConfig } from './agent/core.js';
import { processAgentEntry } from './agent-entry.js';
import { InlineCell } from './inline-cell.js';
import { jailPreopens, jailSupport, planJail, type JailLaunch } from './jail/index.js';
import { ProcessCell } from './process-cell.js';
import { maxParkedFor } from './parking-limits.js';
import type { RemoteCell } from './remote-cell.js';
import type { Cell, CellSpawnOptions } from './types.js';
import { WorkerCell } from './worker-cell.js';

/** A cell as spawnCell returns it: the Cell contract plus the test-only eval hook. */
export interface SpawnedCell extends Cell {
  /** TESTS ONLY: runs JavaScript inside the cell's agent; rejects unless spawned with unsafeTestHooks.eval. */
  unsafeEval(source: string): Promise<unknown>;
  /** Process cells: the agent's own host pid (`pid` is the jail's launcher, whose death ends the cell). */
  readonly agentPid?: number;
}

export const DEFAULT_CELL_MEMORY = 1024 * 1024 * 1024;
export const DEFAULT_MAX_OPEN_FILES = 256;
const START_TIMEOUT_MS = 15_000;

export async function spawnCell(options: CellSpawnOptions): Promise<SpawnedCell> {
  checkOptions(options);
  switch (options.isolation) {
    case 'inline':
      return new InlineCell(options);
    case 'worker':
      return started(new WorkerCell(options));
    case 'process':
      return spawnProcessCell(options);
    default:
      throw new IsolaError('USAGE', `unknown isolation ${JSON.stringify(options.isolation)} (expected inline, worker or process)`);
  }
}

/**
 * Whether the jail can start a cell here: `true` once one did; the reason once the first one failed and a plain
 * one (default limits, no preopens) failed too. Then process cells fall back as where no jail can be built (on
 * Node 26 the agent was once refused its channel inside the jail: the jail was built, every cell died at start).
 */
let jailStarts: true | string | undefined;
let recheck: Promise<true | string> | undefined;

async function spawnProcessCell(options: CellSpawnOptions): Promise<SpawnedCell> {
  const support = jailSupport();
  const why = !support.process ? support.reasons.join('; ') || 'no jail tool' : typeof jailStarts === 'string' ? jailStarts : null;
  if (why !== null) {
    if (options.requireJail === true) throw new IsolaError('JAIL', support.process ? why : `cannot build a jail for a process cell: ${why}`);
    warnFallbackOnce(why);
    return started(new WorkerCell(options));
  }
  try {
    const cell = await startJailed(options);
    jailStarts = true;
    return cell;
  } catch (e) {
    if (jailStarts === true || !(e instanceof IsolaError) || e.code !== 'CELL_CRASHED') throw e;
    recheck ??= startJailed({ isolation: 'process' }).then((c) => {
      c.kill();
      return true as const;
    }, (plain: unknown) => `no cell starts in the ${support.tool} jail: ${plain instanceof Error ? plain.message : String(plain)}`);
    jailStarts = await recheck;
    if (jailStarts === true) throw e; // this cell's own settings, not the jail
    return spawnProcessCell(options);
  }
}

function startJailed(options: CellSpawnOptions): Promise<ProcessCell> {
  const preopens = options.preopens ?? [];
  const launch: JailLaunch = planJail({
    agentEntry: processAgentEntry(), nodeArgs: [], preopens, memoryLimitBytes: options.memoryLimitBytes ?? DEFAULT_CELL_MEMORY, cpuCores: options.cpuCores,
    maxOpenFiles: options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, noNodePermissions: options.unsafeTestHooks?.noNodePermissions,
  });
  const config: AgentConfig = {
    preopens: jailPreopens(preopens), // where the jail mounts them
    cacheDir: null, artifacts: false, noPathChecks: options.unsafeTestHooks?.noPathChecks, eval: options.unsafeTestHooks?.eval,
    maxParked: maxParkedFor(options),
    ...(launch.kind === 'unshare' ? { closeFds: [...launch.sharedFds.keys()] } : {}), // bwrap closes its own
  };
  return started(new ProcessCell(options, launch, config));
}

function checkOptions(o: CellSpawnOptions): void {
  const m = o.memoryLimitBytes;
  if (m !== undefined && !(Number.isSafeInteger(m) && m >= 32 * 2 ** 20)) {
    throw new IsolaError('USAGE', `invalid cell memory limit ${String(m)} (a whole number of bytes, at least 32 MiB)`);
  }
  const g = o.killGraceMs;
  if (g !== undefined && !(Number.isFinite(g) && g >= 0)) throw new IsolaError('USAGE', `invalid killGraceMs ${String(g)} (a number of milliseconds >= 0)`);
  const t = o.takeBackAfterMs;
  if (t !== undefined && !(Number.isFinite(t) && t > 0)) throw new IsolaError('USAGE', `invalid takeBackAfterMs ${String(t)} (a number of milliseconds > 0)`);
  const c = o.cpuCores;
  if (c !== undefined && !(Number.isFinite(c) && c >= 0.01 && c <= 1024)) throw new IsolaError('USAGE', `invalid cpuCores ${String(c)} (a number of cores from 0.01 to 1024)`);
  const f = o.maxOpenFiles;
  if (f !== undefined && !(Number.isInteger(f) && f >= 32)) throw new IsolaError('USAGE', `invalid maxOpenFiles ${String(f)} (a whole number >= 32)`);
  maxParkedFor(o); // throws USAGE for a bad one
}

/** Waits for the agent's hello; a cell that dies or stays silent fails the spawn with what it said. */
async function started<C extends RemoteCell>(cell: C): Promise<C> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IsolaError('CELL_CRASHED', `cell did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([cell.ready(), timeout]);
    return cell;
  } catch (e) {
    cell.kill();
    const lines = e instanceof IsolaError && typeof e.detail.stderr === 'string' ? e.detail.stderr.trim().split('\n') : [];
    const stderr = [...lines].reverse().find((l) => /error/i.test(l)) ?? lines.pop();
    if (e instanceof IsolaError && stderr) throw new IsolaError(e.code, `${e.message.replace('cell crashed', 'cell failed to start')}: ${stderr}`, e.detail);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

let warned = false;

function warnFallbackOnce(why: string): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`isola: process cells need a jail this machine cannot build (${why}); using worker cells instead\n`);
}
