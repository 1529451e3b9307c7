/**
 * Warm spares: cells started ahead of need and given to no one yet, so that a cold start (a pool scaled to
 * zero, a new tenant) pays a module load instead of a process spawn (~60 ms of CPU, more in a jail). A spare
 * is started with the server's plain cell settings: no preopens (a jail's mounts are fixed when it starts, so a
 * function with file grants spawns its own cell and sees only its grants), the default memory limit. It is
 * given to one pool once, for good; a cell never comes back to the spares after it has run anyone's code.
 * One spawn at a time refills the set, so a burst of cold starts does not turn into a burst of spawns here.
 */
import { spawnCell, type SpawnedCell } from './spawn.js';
import { spawnKey } from './spawn-key.js';
import { TAKE_BACK_AFTER_MS, type SpareSource } from './shared-pool.js';
import type { CellSpawnOptions } from './types.js';

/** After a spare failed to start, the next try waits this long (a broken jail must not spawn in a loop). */
const RETRY_MS = 5000;
/**
 * A spare older than this is replaced before it is given out: pools recycle cells by age, and one that waited
 * long as a spare would be recycled soon after its first request.
 */
const MAX_SPARE_AGE_MS = 5 * 60_000;

export interface SpareStats {
  /** Spares ready now. */
  ready: number;
  /** Spares given to pools since start. */
  taken: number;
  /** Times a pool wanted one and none was ready. */
  missed: number;
}

export class SpareCells implements SpareSource {
  private readonly ready: SpawnedCell[] = [];
  private readonly key: string;
  private starting: Promise<void> | null = null;
  private failedAt = -Infinity;
  private closed = false;
  private taken = 0;
  private missed = 0;

  /** `count` spares of `spawn`'s settings (0: none, take() always says no). Call start() to begin. */
  constructor(private readonly spawn: CellSpawnOptions, private readonly count: number) {
    this.key = spawnKey(spawn);
  }

  start(): void {
    this.refill();
  }

  take(spawn: CellSpawnOptions): SpawnedCell | undefined {
    if (this.closed || this.count === 0 || spawnKey(spawn) !== this.key) return undefined;
    let cell: SpawnedCell | undefined;
    while (cell === undefined && this.ready.length > 0) {
      const c = this.ready.shift()!;
      if (c.alive && Date.now() - c.spawnedAt < MAX_SPARE_AGE_MS) cell = c;
      else c.kill();
    }
    if (cell === undefined) this.missed++;
    else this.taken++;
    this.refill();
    return cell;
  }

  stats(): SpareStats {
    return { ready: this.ready.length, taken: this.taken, missed: this.missed };
  }

  /** Waits for the spare being started, if any (tests, benchmarks). */
  async settled(): Promise<void> {
    while (this.starting !== null) await this.starting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => {});
    for (const c of this.ready.splice(0)) c.kill();
  }

  private refill(): void {
    if (this.closed || this.starting !== null || this.ready.length >= this.count) return;
    if (performance.now() - this.failedAt < RETRY_MS) return;
    this.starting = spawnCell({ takeBackAfterMs: TAKE_BACK_AFTER_MS, ...this.spawn }).then((cell) => {
      this.starting = null;
      if (this.closed) {
        cell.kill();
        return;
      }
      this.ready.push(cell);
      cell.onExit(() => {
        const i = this.ready.indexOf(cell);
        if (i >= 0) this.ready.splice(i, 1);
        this.refill();
      });
      this.refill();
    }, () => {
      this.starting = null;
      this.failedAt = performance.now();
    });
  }
}
