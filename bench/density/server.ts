// `isola serve` as a user runs it (bin/isola.js, a data dir of its own, process cells), with the flags of one
// scenario, and deploys through the admin API (PUT /admin/functions/NAME, the manifest entry as JSON in
// x-isola-manifest, the module as the body: src/cli/admin-client.ts), timed one by one.
//
// The flags and manifest keys of issue 14 (--idle-timeout, --spare-cells, --max-functions, --max-tenants;
// `tenant`, `idle-timeout`) may be missing from the server under test. A refused one ends the scenario with
// one line naming it; with --skip-refused the bench drops it, says so in the row, and measures without it
// (to check the bench itself against a server that predates them).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AdminClient } from '../../src/cli/admin-client.js';
import { CLI } from '../../support/project-root.js';
import { freePort, startChild, waitReady, type Child } from '../http/servers.js';
import { processTree } from './proc.js';

/** What servers and deploys refused in this run, dropped under --skip-refused (named in the rows). */
export const dropped = { flags: new Set<string>(), keys: new Set<string>() };

export class Refused extends Error {}

const REFUSED_FLAG = /unknown option '(--[\w-]+)'/;
const REFUSED_KEY = /unknown key "([\w-]+)"|\.([\w-]+): not supported yet/;

export interface ServerOptions {
  /** Scenario flags, as [flag, value] (value '' for a switch). */
  flags: Array<[string, string]>;
  skipRefused: boolean;
  log: (s: string) => void;
}

export interface DensityServer {
  base: string;
  pid: number;
  /** The flags it runs with (after any dropped). */
  flags: Array<[string, string]>;
  /**
   * Deploys `bytes` as NAME (route /NAME unless the entry says) and resolves to the wall time of the deploy
   * in ms (the upload to the server's final answer). Refused manifest keys: see the file comment.
   */
  deploy(name: string, entry: Record<string, unknown>, bytes: Uint8Array, timeoutMs?: number): Promise<number>;
  /** GET /metrics (Prometheus text). */
  metrics(): Promise<string>;
  child: Child;
  stop(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms / 1000} s`)), ms); }),
  ]);
}

export async function startServer(opts: ServerOptions): Promise<DensityServer> {
  let flags = opts.flags.filter(([f]) => !dropped.flags.has(f));
  for (;;) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'isola-bench-density-'));
    const token = randomBytes(24).toString('base64url');
    const base = `http://127.0.0.1:${port}`;
    const args = [
      CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--admin-token', token,
      '--isolation', 'process', '--log-level', 'warn', '--drain-timeout', '2s',
      ...flags.flatMap(([f, v]) => (v === '' ? [f] : [f, v])),
    ];
    opts.log(`isola serve ${flags.map(([f, v]) => `${f} ${v}`.trim()).join(' ') || '(no extra flags)'}`);
    const child = startChild(process.execPath, args, { cwd: dataDir });
    /** Stops the server, then waits (at most 15 s) for its cells to go too, so the next scenario starts on a quiet machine. */
    const cleanup = async (): Promise<void> => {
      const tree = child.process.pid === undefined ? [] : processTree(child.process.pid);
      await child.stop();
      const deadline = Date.now() + 15_000;
      let left = tree.filter((p) => existsSync(`/proc/${p}`));
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        left = left.filter((p) => existsSync(`/proc/${p}`));
      }
      if (left.length > 0) opts.log(`${left.length} processes of the stopped server still alive after 15 s`);
      rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      await waitReady(child, `${base}/.well-known/isola/health`, undefined, 30_000);
    } catch (e) {
      await cleanup();
      const message = (e as Error).message;
      const flag = REFUSED_FLAG.exec(message)?.[1];
      if (flag === undefined) throw new Error(`isola serve did not start: ${message.replace(/^exited \d+: /, '')}`);
      if (!opts.skipRefused) throw new Refused(`isola serve refused ${flag} (unknown option): this server predates it (--skip-refused measures without it)`);
      opts.log(`isola serve refused ${flag}: measuring without it (--skip-refused)`);
      dropped.flags.add(flag);
      flags = flags.filter(([f]) => f !== flag);
      continue;
    }
    const admin = new AdminClient(base, token);
    const pid = child.process.pid!;
    const deployOnce = async (name: string, entry: Record<string, unknown>, bytes: Uint8Array, timeoutMs: number): Promise<number> => {
      const kept = Object.fromEntries(Object.entries({ route: `/${name}`, ...entry }).filter(([k]) => !dropped.keys.has(k)));
      const t = performance.now();
      await withTimeout(admin.deploy(name, kept, bytes), timeoutMs, `deploy of ${name}`);
      return performance.now() - t;
    };
    return {
      base, pid, flags, child,
      async deploy(name, entry, bytes, timeoutMs = 60_000) {
        for (;;) {
          try {
            return await deployOnce(name, entry, bytes, timeoutMs);
          } catch (e) {
            const m = REFUSED_KEY.exec((e as Error).message);
            const key = m?.[1] ?? m?.[2];
            if (key === undefined || !(key in entry)) throw e;
            if (!opts.skipRefused) throw new Refused(`the server refused manifest key "${key}" in a deploy: it predates it (--skip-refused measures without it)`);
            if (!dropped.keys.has(key)) opts.log(`the server refused manifest key "${key}": deploying without it (--skip-refused)`);
            dropped.keys.add(key);
          }
        }
      },
      async metrics() {
        const res = await withTimeout(fetch(`${base}/metrics`), 30_000, 'GET /metrics');
        return res.text();
      },
      stop: cleanup,
    };
  }
}

/**
 * Deploys `count` functions (`item(i)` gives each), `concurrency` at a time, in index order; `each` gets the
 * index and the deploy's ms as it finishes, and may throw to stop the rest (the memory guard, a cancelled
 * scenario).
 */
export async function deployMany(
  server: DensityServer, from: number, to: number, concurrency: number,
  item: (i: number) => { name: string; entry: Record<string, unknown>; bytes: Uint8Array },
  each: (i: number, ms: number) => void,
): Promise<void> {
  let next = from;
  let stop: unknown;
  const lane = async (): Promise<void> => {
    while (next < to && stop === undefined) {
      const i = next++;
      const { name, entry, bytes } = item(i);
      try {
        each(i, await server.deploy(name, entry, bytes));
      } catch (e) {
        stop ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  if (stop !== undefined) throw stop;
}

/** Sums a Prometheus counter's samples by one label, over the samples whose labels pass `keep`. */
export function counterBy(text: string, metric: string, label: string, keep: (labels: string) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+([\d.e+-]+)/.exec(line);
    if (!m || !keep(m[1]!)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
    out.set(value, (out.get(value) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * What the server says about its tenants' cells (issue 14's metrics: isola_tenant_events, isola_spare_cells),
 * summed over the tenants, as one phrase for a row; `null` when it reports neither (a server without them).
 */
export async function serverReport(server: DensityServer, tenant?: string): Promise<string | null> {
  let text: string;
  try {
    text = await server.metrics();
  } catch {
    return null;
  }
  const only = tenant === undefined ? undefined : (labels: string): boolean => labels.includes(`tenant="${tenant}"`);
  const events = counterBy(text, 'isola_tenant_events', 'event', only);
  const spares = counterBy(text, 'isola_spare_cells', 'state');
  const cells = counterBy(text, 'isola_tenant_cells', 'state', only);
  const loaded = counterBy(text, 'isola_tenant_modules', 'kind', only);
  if (events.size === 0 && spares.size === 0) return null;
  const list = (m: Map<string, number>): string => [...m].map(([k, n]) => `${k} ${n}`).join(', ');
  const parts = [`${tenant === undefined ? 'tenants\' events' : `tenant ${tenant}'s events`}: ${list(events) || 'none'}`];
  if (cells.size) parts.push(`cells now: ${list(cells)}`);
  if (loaded.size) parts.push(`modules: ${list(loaded)}`);
  if (spares.size) parts.push(`spares: ${list(spares)}`);
  return `the server reports ${parts.join('; ')}`;
}
