/** `isola run --kv NAME[=PATH]`: embedded stores for one local run, brokered as the server brokers them. */
import { embeddedSettings, type StoreSettings } from '../capabilities/keyvalue/config.js';
import { KvStores } from '../capabilities/keyvalue/host/stores.js';
import { KvBroker, kvOnlyHost } from '../capabilities/keyvalue/host/broker.js';
import { Stops } from '../capabilities/wasi-http/host/replies.js';
import type { HostCalls } from '../cells/types.js';

/** setTimeout's longest delay: a run without --timeout waits on a store as long as it takes. */
const FOREVER_MS = 2 ** 31 - 1;

export function localStores(grants: Map<string, string>, timeoutMs: number | undefined): { host: HostCalls; close(): Promise<void> } {
  const settings = new Map<string, StoreSettings>();
  for (const [name, path] of grants) settings.set(name, embeddedSettings(path));
  const stores = new KvStores({ dataDir: '.isola', settings });
  const stops = new Stops(new AbortController().signal, timeoutMs ?? FOREVER_MS);
  const broker = new KvBroker(stores, new Set(grants.keys()), Number.MAX_SAFE_INTEGER, stops, () => {});
  return {
    host: kvOnlyHost(broker),
    async close() {
      stops.end();
      await stores.close();
    },
  };
}
