// What every scenario of bench:density shares: the run's plan (sizes, --quick), the rows, the servers it
// started (stopped when it ends, fails or runs out of time), the phase it is in (for the message of a
// scenario that timed out), and waiting for a server to go idle.
import { dropped, startServer, type DensityServer } from './server.js';
import { fmtTree, memoryGuard, treeMemory, type TreeMemory } from './proc.js';
import type { DensityRow } from './table.js';

export interface Plan {
  quick: boolean;
  skipRefused: boolean;
  /** Scenarios 1 and 2: functions deployed. */
  functions: number;
  /** Scenario 3: functions deployed. */
  deployed: number;
  /** Scenario 4: cold starts measured (5 measures a quarter as many, at least 10). */
  cold: number;
  /** Scenario 4: pause before each cold request, for the spare pool to refill. */
  refillMs: number;
  /** Scenario 6: concurrent sleeping requests, over `sleepers` functions. */
  requests: number;
  sleepers: number;
  /** The server's idle timeout in the scenarios that wait for scale to zero. */
  idleTimeoutMs: number;
  /** Deploys in flight at once (scenarios 1-3). */
  deployConcurrency: number;
}

export class Cancelled extends Error {}

export class Ctx {
  phase = 'starting';
  private cancelled: string | null = null;
  private readonly servers = new Set<DensityServer>();

  constructor(readonly plan: Plan, readonly rows: DensityRow[], readonly log: (s: string) => void) {}

  /** Throws once the scenario was cancelled (its time ran out): every loop calls it. */
  alive = (): void => {
    if (this.cancelled !== null) throw new Cancelled(this.cancelled);
    for (const s of this.servers) {
      const p = s.child.process;
      if (p.exitCode === null && p.signalCode === null) continue;
      const lines = s.child.stderr().split('\n').filter(Boolean);
      const why = lines.find((l) => /error|fatal/i.test(l)) ?? 'no error on its stderr';
      throw new Error(`the server exited (${p.exitCode ?? p.signalCode}) during the scenario: ${why.slice(0, 200)}`);
    }
  };

  setPhase(p: string): void {
    this.alive();
    this.phase = p;
    this.log(p);
  }

  async cancel(why: string): Promise<void> {
    this.cancelled = why;
    await this.stopAll();
  }

  async server(flags: Array<[string, string]>): Promise<DensityServer> {
    this.alive();
    const s = await startServer({ flags, skipRefused: this.plan.skipRefused, log: this.log });
    this.servers.add(s);
    if (this.cancelled !== null) await this.stopAll();
    this.alive();
    return s;
  }

  async stop(s: DensityServer): Promise<void> {
    this.servers.delete(s);
    await s.stop();
  }

  async stopAll(): Promise<void> {
    const all = [...this.servers];
    this.servers.clear();
    await Promise.all(all.map((s) => s.stop().catch(() => {})));
  }

  /**
   * An `alive` that also keeps the machine's memory safe (proc.ts memoryGuard): the machine-wide check at
   * most every 250 ms, the server tree's PSS against `capKiB` at most every `treeEveryMs` (reading the PSS of
   * a thousand cells takes a while: an open loop measuring latency checks only the machine).
   */
  guarded(pid: number, capKiB: number, where: () => string, treeEveryMs = 2000): () => void {
    let machineAt = 0;
    let treeAt = performance.now();
    return () => {
      this.alive();
      const now = performance.now();
      if (now - machineAt < 250) return;
      machineAt = now;
      const tree = now - treeAt >= treeEveryMs;
      if (tree) treeAt = now;
      memoryGuard(pid, capKiB, where(), tree);
    };
  }

  async sleep(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      this.alive();
      await new Promise((r) => setTimeout(r, Math.min(250, end - Date.now())));
    }
    this.alive();
  }

  /**
   * Waits past the idle timeout, then until the tree's PSS holds still (two readings 1 s apart within 2%),
   * at most 30 s more: the memory of an idle server. `settled` false: it was still moving.
   */
  async idle(s: DensityServer): Promise<{ memory: TreeMemory; settled: boolean; waitedMs: number }> {
    const t0 = Date.now();
    await this.sleep(this.plan.idleTimeoutMs + 3000);
    let last = treeMemory(s.pid);
    for (let i = 0; i < 30; i++) {
      await this.sleep(1000);
      const now = treeMemory(s.pid);
      const still = Math.abs(now.totalKiB - last.totalKiB) <= 0.02 * last.totalKiB && now.agents === last.agents;
      last = now;
      if (still) return { memory: now, settled: true, waitedMs: Date.now() - t0 };
    }
    this.log(`memory still moving after 30 s: ${fmtTree(last)}`);
    return { memory: last, settled: false, waitedMs: Date.now() - t0 };
  }
}

/** The scenario's label, with what the server refused and the bench left out (--skip-refused). */
export function labelled(scenario: string, flags: string[], keys: string[]): string {
  const without = [...flags.filter((f) => dropped.flags.has(f)), ...keys.filter((k) => dropped.keys.has(k)).map((k) => `${k} =`)];
  return without.length === 0 ? scenario : `${scenario} [measured WITHOUT ${without.join(', ')}: refused]`;
}

export const fmtInt = (n: number): string => n.toLocaleString('en-US');
export const fmtMs = (ms: number): string => (!Number.isFinite(ms) ? '-' : ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
