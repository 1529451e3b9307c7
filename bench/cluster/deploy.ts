// Deploy → every node serving. Each deploy is a new module (bench/http's CGI hello printing "version N"), so
// every node fetches its bytes from the object store, as for a real new build. From the moment
// AdminClient.deploy() returns on node 1, every node is polled every POLL_MS until it answers the new body.
// The baseline: the same deploys on the standalone server, alternately, timed the same way.
import { helloCgi } from '../http/hello-cgi.js';
import { agent, get } from '../density/client.js';
import { median } from '../stats.js';
import { fmtRatio, type Row } from '../table.js';
import type { Platform, Server } from './platform.js';

const POLL_MS = 2;
const GIVE_UP_MS = 15_000;
const NAME = 'ver';
const ENTRY = { route: `/${NAME}` };
/** Issue 15: every node serves the new version within 1 s. */
const TARGET_MS = 1000;

const fmt = (ms: number): string => `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
const max = (xs: number[]): number => Math.max(...xs);

interface Timing {
  /** deploy() call, ms. */
  deploy: number;
  /** From deploy() returning until each server answered the new version, ms. */
  serving: number[];
}

/** Polls `s` until it answers `expect`; ms since `since`. */
async function servingAfter(s: Server, expect: string, since: number, via: ReturnType<typeof agent>): Promise<number> {
  for (;;) {
    const r = await get(via, `${s.url}/${NAME}`, 5000);
    if (r.status === 200 && r.body === expect) return performance.now() - since;
    if (performance.now() - since > GIVE_UP_MS) throw new Error(`${s.name} did not serve ${JSON.stringify(expect)} within ${GIVE_UP_MS} ms (last: ${r.status} ${JSON.stringify(r.body.slice(0, 40))})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function timeDeploy(through: Server, watch: Server[], bytes: Uint8Array, expect: string, via: ReturnType<typeof agent>): Promise<Timing> {
  const t0 = performance.now();
  await through.admin.deploy(NAME, ENTRY, bytes);
  const t1 = performance.now();
  return { deploy: t1 - t0, serving: await Promise.all(watch.map((s) => servingAfter(s, expect, t1, via))) };
}

export async function deployRows(p: Platform, count: number, log: (s: string) => void): Promise<Row[]> {
  const body = (v: number): string => `version ${v}\n`;
  const modules = await Promise.all(Array.from({ length: count + 1 }, (_, v) => helloCgi(body(v))));
  const via = agent(8);
  const cluster: Timing[] = [];
  const alone: Timing[] = [];
  try {
    await p.deployEverywhere(NAME, ENTRY, modules[0]!, body(0));
    for (let v = 1; v <= count; v++) {
      log(`deploy ${v}/${count}`);
      const c = (): Promise<number> => timeDeploy(p.nodes[0]!, p.nodes, modules[v]!, body(v), via).then((t) => cluster.push(t));
      const s = (): Promise<number> => timeDeploy(p.standalone, [p.standalone], modules[v]!, body(v), via).then((t) => alone.push(t));
      if (v % 2 === 1) await c().then(s);
      else await s().then(c);
    }
  } finally {
    via.destroy();
  }
  const all = cluster.map((t) => max(t.serving));
  const perNode = p.nodes.map((n, i) => `${n.name} ${fmt(median(cluster.map((t) => t.serving[i]!)))}`).join(', ');
  const aloneServing = alone.map((t) => t.serving[0]!);
  const deploys = { cluster: cluster.map((t) => t.deploy), alone: alone.map((t) => t.deploy) };
  return [
    {
      metric: `deploy → all ${p.nodes.length} nodes serve the new version (from deploy() returning on ${p.nodes[0]!.name}; each node polled every ${POLL_MS} ms; ${count} deploys, a new module each)`,
      isola: `p50 ${fmt(median(all))}, max ${fmt(max(all))} (the last node); p50 per node: ${perNode}`,
      baseline: `standalone: p50 ${fmt(median(aloneServing))}, max ${fmt(max(aloneServing))}`,
      ratio: '',
      target: `<= ${TARGET_MS} ms (issue 15)`,
      ok: max(all) <= TARGET_MS,
    },
    {
      metric: 'deploy() itself (admin API: upload, validate, compile; in the cluster also the module and the record written to JetStream)',
      isola: `p50 ${fmt(median(deploys.cluster))}, max ${fmt(max(deploys.cluster))}`,
      baseline: `standalone: p50 ${fmt(median(deploys.alone))}, max ${fmt(max(deploys.alone))}`,
      ratio: `p50 ${fmtRatio(median(deploys.cluster) / median(deploys.alone))}`,
      target: 'report',
      ok: '-',
    },
  ];
}
