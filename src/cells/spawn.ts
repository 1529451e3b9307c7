/**
 * spawnCell: one cell of the requested isolation, ready to load modules. `process` asks the jail for a
 * launch plan; where this machine cannot build a jail it falls back to `worker` (one stderr line per
 * host process) unless `requireJail`.
 */
import { resolve } from 'node:path';
import { IsolaError } from '../errors.js';
import type { AgentConfig } from './agent/core.js';
import { processAgentEntry } from './agent-entry.js';
import { InlineCell } from './inline-cell.js';
import type { JailLaunch, JailModule } from './jail-api.js';
import { ProcessCell } from './process-cell.js';
import type { RemoteCell } from './remote-cell.js';
import type { Cell, CellSpawnOptions } from './types.js';
import { WorkerCell } from './worker-cell.js';

/** A cell as spawnCell returns it: the Cell contract plus the test-only eval hook. */
export interface SpawnedCell extends Cell {
  /** TESTS ONLY: runs JavaScript inside the cell's agent; rejects unless spawned with unsafeTestHooks.eval. */
  unsafeEval(source: string): Promise<unknown>;
}

export const DEFAULT_CELL_MEMORY = 1024 * 1024 * 1024;
export const DEFAULT_MAX_OPEN_FILES = 256;
const START_TIMEOUT_MS = 15_000;

export async function spawnCell(options: CellSpawnOptions): Promise<SpawnedCell> {
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

async function spawnProcessCell(options: CellSpawnOptions): Promise<SpawnedCell> {
  const jail = await jailModule();
  const preopens = options.preopens ?? [];
  const config: AgentConfig = {
    preopens: preopens.map((p) => ({ ...p, hostPath: resolve(p.hostPath) })), // the jail mounts each at its host path
    cacheDir: null, artifacts: false, noPathChecks: options.unsafeTestHooks?.noPathChecks, eval: options.unsafeTestHooks?.eval,
  };
  const memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_CELL_MEMORY;
  let launch: JailLaunch;
  if (jail !== null) {
    const support = jail.jailSupport();
    if (!support.process) {
      const why = support.reasons.join('; ') || 'no jail tool';
      if (options.requireJail === true) throw new IsolaError('JAIL', `cannot build a jail for a process cell: ${why}`);
      warnFallbackOnce(why);
      return started(new WorkerCell(options));
    }
    launch = jail.planJail({
      agentEntry: processAgentEntry(), nodeArgs: [], preopens, memoryLimitBytes,
      maxOpenFiles: options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, noNodePermissions: options.unsafeTestHooks?.noNodePermissions,
    });
  } else {
    // TODO(jail): src/cells/jail/index.ts has not landed yet; until it does, an unjailed child process.
    if (options.requireJail === true) throw new IsolaError('JAIL', 'cannot build a jail for a process cell: the jail module is missing');
    launch = {
      kind: 'none', command: process.execPath,
      args: [`--max-old-space-size=${Math.max(32, Math.floor(memoryLimitBytes / 2 ** 20))}`, processAgentEntry()],
      env: {}, fdData: new Map(), cleanup() {},
    };
  }
  return started(new ProcessCell(options, launch, config));
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

let jailPromise: Promise<JailModule | null> | undefined;

function jailModule(): Promise<JailModule | null> {
  const path = './jail/index.js'; // a variable until the jail lands, so that builds work without it
  jailPromise ??= (import(path) as Promise<JailModule>).catch(() => null);
  return jailPromise;
}

let warned = false;

function warnFallbackOnce(why: string): void {
  if (warned) return;
  warned = true;
  process.stderr.write(`isola: process cells need a jail this machine cannot build (${why}); using worker cells instead\n`);
}
