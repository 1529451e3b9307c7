// A node's forwarding counters, read from its /metrics (isola_cluster_forwarded{direction, outcome}): how the
// bench tells requests that ran where they arrived from those that went to another node.
export type Forwarded = Record<string, number>;

const LINE = /^isola_cluster_forwarded\{([^}]*)\}\s+(\S+)$/gm;

/** "sent.forwarded", "sent.busy", "served.served", "served.refusedBusy", … → count since the node started. */
export async function forwardedCounts(base: string): Promise<Forwarded> {
  const res = await fetch(new URL('/metrics', base), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${base}/metrics answered ${res.status}`);
  const out: Forwarded = {};
  for (const m of (await res.text()).matchAll(LINE)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out[`${labels.direction}.${labels.outcome}`] = Number(m[2]);
  }
  return out;
}

/** What each counter grew by between two readings (the counters that grew only). */
export function grown(before: Forwarded, after: Forwarded): Forwarded {
  const out: Forwarded = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

export const fmtCounts = (c: Forwarded): string => (Object.keys(c).length === 0 ? 'none' : Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', '));
