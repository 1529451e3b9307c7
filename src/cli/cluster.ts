/**
 * `isola cluster status [--json]`: the nodes of the cluster as the server asked sees them: state, address,
 * load, functions and a digest of their versions (equal digests: same versions), when each was last heard
 * from and how far its clock is from that server's. Ages are taken on the server's clock (its own entry is
 * "now"), so this machine's clock does not matter. `--json` prints the admin API's answer.
 */
import type { NodeStatus } from '../orchestrator/cluster-api.js';
import { escaped } from './logs.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export function formatSkew(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  return Math.abs(ms) < 1000 ? `${sign}${Math.abs(Math.round(ms))} ms` : `${sign}${seconds(Math.abs(ms))}`;
}

const stateOf = (n: NodeStatus): string => (n.state === 'up' && !n.ready ? 'catching up' : n.state);

/**
 * cluster default (3 nodes, 2 up), seen from node-a
 *   NODE    STATE  URL                    INFLIGHT  QUEUED  FUNCTIONS  VERSIONS  LAST SEEN  SKEW
 * * node-a  up     http://127.0.0.1:3001         0       0          2  3f2a9c01  0.0 s ago  +0 ms
 *   node-b  gone   http://127.0.0.1:3002         1       0          2  3f2a9c01  4.2 s ago  -3 ms
 */
export function formatClusterStatus(status: { cluster: string; node: string; nodes: NodeStatus[] }): string {
  const now = status.nodes.find((n) => n.self)?.lastSeenMs ?? Date.now();
  const up = status.nodes.filter((n) => n.state === 'up').length;
  const head = ['NODE', 'STATE', 'URL', 'INFLIGHT', 'QUEUED', 'FUNCTIONS', 'VERSIONS', 'LAST SEEN', 'SKEW'];
  const rows = status.nodes.map((n) => [
    n.node, stateOf(n), n.url, String(n.inflight), String(n.queued), String(n.functions), n.versionsDigest.slice(0, 8),
    `${seconds(Math.max(0, now - n.lastSeenMs))} ago`, formatSkew(n.skewMs),
  ].map(escaped));
  const numeric = new Set([3, 4, 5]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const title = `cluster ${escaped(status.cluster)} (${status.nodes.length} node${status.nodes.length === 1 ? '' : 's'}, ${up} up), seen from ${escaped(status.node)}`;
  const table = [`  ${line(head)}`, ...rows.map((r, i) => `${status.nodes[i]!.self ? '*' : ' '} ${line(r)}`)];
  return `${title}\n${table.join('\n')}\n`;
}

export async function clusterStatusCommand(flags: ServerFlags & { json?: boolean }): Promise<number> {
  const status = await adminClientFromFlags(flags).clusterStatus();
  writeStdout(flags.json ? `${JSON.stringify(status, null, 2)}\n` : formatClusterStatus(status));
  return 0;
}
