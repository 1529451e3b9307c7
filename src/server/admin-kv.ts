/**
 * The admin API's key-value endpoints (`isola kv`): an operator's view of the stores guests use.
 *   GET    /admin/kv                          the stores: configured, opened, or granted to a function
 *   GET    /admin/kv/:store?prefix=&cursor=   a page of keys {keys, cursor}
 *   GET    /admin/kv/:store?key=K             the value (application/octet-stream), 404 when absent
 *   PUT    /admin/kv/:store?key=K             sets it to the request body
 *   DELETE /admin/kv/:store?key=K             deletes it
 * The key is in the query, not the path: keys hold '/', which the server refuses encoded in a path segment.
 * A store nobody configured or was granted is 404 (an operator's typo must not create one). Keys and values
 * keep the store's limits, as a guest's do.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IsolaError } from '../errors.js';
import type { KvStores } from '../capabilities/keyvalue/host/stores.js';
import { storeNameProblem } from '../capabilities/keyvalue/limits.js';
import { describeBackend } from '../capabilities/keyvalue/host/backends/open-backend.js';
import { KvBackendError, type KvBackend } from '../capabilities/keyvalue/host/backends/types.js';
import type { OrchestratorApi } from '../orchestrator/types.js';
import { readBody } from './read-body.js';

export interface KvAdminContext {
  orchestrator: OrchestratorApi;
  kv: KvStores;
}

export interface KvOp {
  operation: string;
  run: () => Promise<[number, unknown]>;
}

const PAGE = 1000;

/** Stores granted to some version of some function. */
function grantedStores(orch: OrchestratorApi): Set<string> {
  return new Set(orch.list().flatMap((f) => f.versions.flatMap((v) => v.spec.keyValueStores ?? [])));
}

function knownStores(ctx: KvAdminContext): string[] {
  return [...new Set([...ctx.kv.configured(), ...ctx.kv.openNames(), ...grantedStores(ctx.orchestrator)])].sort();
}

async function backendOf(ctx: KvAdminContext, store: string): Promise<KvBackend> {
  const problem = storeNameProblem(store);
  if (problem !== null) throw new IsolaError('USAGE', `store name: ${problem}`);
  if (!knownStores(ctx).includes(store)) throw new IsolaError('NOT_FOUND', `no store named ${store} (none is configured or granted to a function by that name)`);
  return ctx.kv.backend(store);
}

/** The backend of a known store, once `key` is one it takes (the store's limits, as a guest's). */
async function keyedBackend(ctx: KvAdminContext, store: string, key: string): Promise<KvBackend> {
  const b = await backendOf(ctx, store);
  const max = ctx.kv.settings(store).limits.maxKeyBytes;
  if (key === '' || key.includes('\0')) throw new IsolaError('USAGE', 'a key is non-empty text without NUL');
  if (Buffer.byteLength(key) > max) throw new IsolaError('TOO_LARGE', `a key of ${Buffer.byteLength(key)} bytes (the store takes at most ${max})`);
  return b;
}

/** A backend's failure as the admin API's error. */
async function backendCall<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (e instanceof KvBackendError) throw new IsolaError(e.kind === 'quota' ? 'TOO_LARGE' : e.kind === 'invalid' ? 'USAGE' : 'UNAVAILABLE', e.message);
    throw e;
  }
}

/** The operation for `/admin/kv/...`, or the methods allowed there (a string) when the method is not one. */
export function kvAdminOperation(ctx: KvAdminContext, req: IncomingMessage, res: ServerResponse, segments: string[], query: string, maxUploadBytes: number): KvOp | string | null {
  const method = req.method ?? 'GET';
  const [store, ...rest] = segments;
  if (rest.length > 0) return null;
  const q = new URLSearchParams(query);
  const key = q.get('key') ?? undefined;
  if (store === undefined || store === '') {
    if (method !== 'GET') return 'GET';
    return {
      operation: 'kv-stores',
      run: async () => [200, { stores: knownStores(ctx).map((name) => ({ name, backend: describeBackend(ctx.kv.settings(name).config), open: ctx.kv.openNames().includes(name) })) }],
    };
  }
  if (key === undefined) {
    if (method !== 'GET') return 'GET';
    return {
      operation: 'kv-list',
      run: async () => {
        const b = await backendOf(ctx, store);
        const page = await backendCall(b.listKeys(q.get('prefix') ?? '', q.get('cursor') || undefined, PAGE));
        return [200, { store, keys: page.keys, cursor: page.cursor ?? null }];
      },
    };
  }
  if (method === 'GET') {
    return {
      operation: 'kv-get',
      run: async () => {
        const value = await backendCall((await keyedBackend(ctx, store, key)).get(key));
        if (value === null) throw new IsolaError('NOT_FOUND', `no key ${JSON.stringify(key)} in store ${store}`);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': value.length });
        res.end(value);
        return [200, null];
      },
    };
  }
  if (method === 'PUT') {
    return {
      operation: 'kv-set',
      run: async () => {
        const b = await keyedBackend(ctx, store, key);
        const max = ctx.kv.settings(store).limits.maxValueBytes;
        const value = await readBody(req, Math.min(max, maxUploadBytes), 'value');
        await backendCall(b.set(key, value));
        return [200, { store, key, bytes: value.length }];
      },
    };
  }
  if (method === 'DELETE') {
    return {
      operation: 'kv-rm',
      run: async () => {
        await backendCall((await keyedBackend(ctx, store, key)).delete(key));
        return [200, { store, key, removed: true }];
      },
    };
  }
  return 'GET, PUT, DELETE';
}


