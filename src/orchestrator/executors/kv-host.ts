/** The key-value broker of one request (capabilities/keyvalue/host/broker.ts), from its function's grants and limits. */
import { KvBroker } from '../../capabilities/keyvalue/host/broker.js';
import { DEFAULT_MAX_KV_CALLS } from '../../capabilities/keyvalue/limits.js';
import type { Stops } from '../../capabilities/wasi-http/host/replies.js';
import type { ExecutionContext } from '../types.js';

export function kvBroker(ctx: ExecutionContext, stops: Stops): KvBroker {
  const { spec } = ctx;
  return new KvBroker(ctx.kv.stores, new Set(spec.keyValueStores ?? []), spec.limits.maxKvCalls ?? DEFAULT_MAX_KV_CALLS, stops, ctx.kv.record);
}

