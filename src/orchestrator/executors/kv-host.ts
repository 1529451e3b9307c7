/** The key-value broker of one request (capabilities/keyvalue/host/broker.ts), from its function's grants and limits. */
import { KvBroker } from '../../capabilities/keyvalue/host/broker.js';
import { DEFAULT_MAX_KV_CALLS } from '../../capabilities/keyvalue/limits.js';
import type { Stops } from '../../capabilities/wasi-http/host/replies.js';
import type { ExecutionContext, FunctionSpec } from '../types.js';

const grantsCache = new WeakMap<FunctionSpec, ReadonlySet<string>>();

/** A version's granted stores as a set, made once per spec (not per request). */
function grantsOf(spec: FunctionSpec): ReadonlySet<string> {
  let grants = grantsCache.get(spec);
  if (grants === undefined) grantsCache.set(spec, (grants = new Set(spec.keyValueStores ?? [])));
  return grants;
}

export function kvBroker(ctx: ExecutionContext, stops: Stops): KvBroker {
  const { spec } = ctx;
  return new KvBroker(ctx.kv.stores, grantsOf(spec), spec.limits.maxKvCalls ?? DEFAULT_MAX_KV_CALLS, stops, ctx.kv.record);
}

