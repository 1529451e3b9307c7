// For scale (and docs/scaling.md): what the cluster's state weighs in JetStream after the run: the record of
// a function with one version and of one with many, the functions bucket (it keeps 5 revisions per key) and
// the object store of modules, read with the nats client the nodes use.
import { connect } from 'nats';
import { clusterNames } from '../../src/cluster/subjects.js';

const KEY_PREFIX = 'fn.';
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

export async function stateSizes(natsUrl: string, functions: string[], cluster = 'default'): Promise<string> {
  const names = clusterNames(cluster);
  const nc = await connect({ servers: natsUrl, timeout: 5000 });
  try {
    const js = nc.jetstream();
    const kv = await js.views.kv(names.functionsBucket);
    const parts: string[] = [];
    for (const fn of functions) {
      const e = await kv.get(KEY_PREFIX + fn);
      if (e === null) continue;
      const versions = (JSON.parse(e.string()) as { versions: unknown[] }).versions.length;
      parts.push(`${fn} (${versions} version${versions === 1 ? '' : 's'}) ${kib(e.value.length)}`);
    }
    const bucket = await kv.status();
    const os = await (await js.views.os(names.modulesStore)).status();
    return `records: ${parts.join(', ')}; bucket ${kib(bucket.size)} in ${bucket.values} entries (history 5 per key); `
      + `object store ${kib(os.size)} in ${os.streamInfo.state.messages} messages`;
  } finally {
    await nc.close();
  }
}
