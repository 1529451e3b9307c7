// The servers under test, all on this machine: a real nats-server with JetStream and three `isola serve
// --cluster` nodes (started by support/cluster.ts, as the cluster tests start them), and a standalone
// `isola serve` with the same flags but no --cluster: the baseline. close() kills every one of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '../../src/cli/admin-client.js';
import { get, serve, startCluster, TOKEN, until, type Served, type TestCluster } from '../../support/cluster.js';
import { childWithArgs } from './pids.js';

export interface Server {
  name: string;
  url: string;
  admin: AdminClient;
  pid: number;
}

export interface Platform {
  /** The cluster's nodes, n1 … n3. */
  nodes: Server[];
  standalone: Server;
  natsPid: number;
  natsUrl: string;
  /** Deploys through node 1 and on the standalone; resolves once every server answers `expect` at the route. */
  deployEverywhere(name: string, entry: Record<string, unknown>, bytes: Uint8Array, expect: string): Promise<void>;
  close(): Promise<void>;
}

/** The flags support/cluster.ts gives a node, less the cluster's own. */
const NODE_FLAGS = ['--admin-token', TOKEN, '--spare-cells', '0', '--idle-timeout', '0'];

export async function startPlatform(flags: string[]): Promise<Platform> {
  const cluster: TestCluster = await startCluster(3, flags);
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-standalone-'));
  let alone: Served | undefined;
  const close = async (): Promise<void> => {
    await Promise.all([cluster.close(), alone?.kill()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    alone = await serve(['--data-dir', dir, ...NODE_FLAGS, ...flags], dir);
    const nodes = cluster.nodes.map((n) => ({ name: n.id, url: n.url, admin: n.admin, pid: childWithArgs('--data-dir', n.dataDir) }));
    const standalone = { name: 'standalone', url: alone.url, admin: new AdminClient(alone.url, TOKEN), pid: childWithArgs('--data-dir', dir) };
    const natsPid = childWithArgs('-p', String(cluster.nats.port));
    return {
      nodes, standalone, natsPid, natsUrl: cluster.nats.url, close,
      async deployEverywhere(name, entry, bytes, expect) {
        const route = String(entry.route);
        await Promise.all([nodes[0]!.admin.deploy(name, entry, bytes), standalone.admin.deploy(name, entry, bytes)]);
        for (const s of [...nodes, standalone]) {
          await until(`${s.name} serves ${route}`, async () => (await get(s.url, route)).text === expect, 15_000);
        }
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Kills every server at once, without waiting (for a signal handler: the children must not outlive the run). */
export function killNow(p: Platform): void {
  for (const pid of [...p.nodes.map((n) => n.pid), p.standalone.pid, p.natsPid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
