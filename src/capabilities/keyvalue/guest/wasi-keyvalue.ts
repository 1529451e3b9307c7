/**
 * wasi:keyvalue 0.2.0-draft2 (`store`, `atomics`, `batch`) for components, over a KvClient, in the shape jco's
 * glue takes imports: resources as classes, results as returns or thrown `P2Error(payload)`. The interface's
 * `error` has three cases; isola's other failures (too large, unavailable, past the call limit, …) are
 * `other("<kind>: <message>")`.
 */
import { P2Error } from '../../wasi-p2/p1-bridge.js';
import { KvError, KvErrorKind, kvErrorName } from '../protocol.js';
import type { KvClient } from './client.js';

/** The error variant of wasi:keyvalue's `store` (and of Spin's key-value, whose other cases isola never raises). */
type StoreError = { tag: 'no-such-store' } | { tag: 'access-denied' } | { tag: 'other'; val: string };

function storeError(e: KvError): StoreError {
  if (e.kind === KvErrorKind.NO_SUCH_STORE) return { tag: 'no-such-store' };
  if (e.kind === KvErrorKind.ACCESS_DENIED) return { tag: 'access-denied' };
  return { tag: 'other', val: `${kvErrorName(e.kind)}: ${e.message}` };
}

/** `body`'s result, or the interface's error (a stop or a broken channel still ends the guest). */
export function guarded<T>(body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof KvError) throw new P2Error(storeError(e));
    throw e;
  }
}

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class Bucket {
  /** @internal made by `open` only (the guest holds handles, never this object). */
  constructor(readonly client: KvClient, readonly store: string) {}

  get(key: string): Uint8Array | undefined {
    return guarded(() => this.client.get(this.store, key) ?? undefined);
  }

  set(key: string, value: Uint8Array): void {
    guarded(() => this.client.set(this.store, key, value));
  }

  delete(key: string): void {
    guarded(() => this.client.delete(this.store, key));
  }

  exists(key: string): boolean {
    return guarded(() => this.client.exists(this.store, key));
  }

  listKeys(cursor: string | undefined): { keys: string[]; cursor: string | undefined } {
    return guarded(() => {
      const page = this.client.listKeys(this.store, EMPTY, cursor ?? EMPTY);
      return { keys: page.keys.map((k) => utf8.decode(k)), cursor: page.cursor.length === 0 ? undefined : utf8.decode(page.cursor) };
    });
  }
}

export class Cas {
  /** @internal made by `Cas.new` and a failed swap. */
  constructor(readonly bucket: Bucket, readonly key: string, readonly value: Uint8Array | null, readonly version: Uint8Array) {}

  static new(bucket: Bucket, key: string): Cas {
    return guarded(() => Cas.read(bucket, key));
  }

  static read(bucket: Bucket, key: string): Cas {
    const { value, version } = bucket.client.casRead(bucket.store, key);
    return new Cas(bucket, key, value, version);
  }

  current(): Uint8Array | undefined {
    return this.value ?? undefined;
  }
}

export interface WasiKeyValueImports {
  'wasi:keyvalue/store': Record<string, unknown>;
  'wasi:keyvalue/atomics': Record<string, unknown>;
  'wasi:keyvalue/batch': Record<string, unknown>;
}

export function wasiKeyValueImports(client: KvClient): WasiKeyValueImports {
  return {
    'wasi:keyvalue/store': {
      Bucket,
      open: (identifier: string): Bucket => guarded(() => {
        client.open(identifier);
        return new Bucket(client, identifier);
      }),
    },
    'wasi:keyvalue/atomics': {
      Cas,
      increment: (bucket: Bucket, key: string, delta: bigint): bigint => guarded(() => client.increment(bucket.store, key, delta)),
      swap: (cas: Cas, value: Uint8Array): void => {
        let failed: Cas;
        try {
          if (client.casSwap(cas.bucket.store, cas.key, cas.version, value)) return;
          failed = Cas.read(cas.bucket, cas.key); // the key's state as it is now, to try again from
        } catch (e) {
          if (e instanceof KvError) throw new P2Error({ tag: 'store-error', val: storeError(e) });
          throw e;
        }
        throw new P2Error({ tag: 'cas-failed', val: failed });
      },
    },
    'wasi:keyvalue/batch': {
      getMany: (bucket: Bucket, keys: string[]): Array<[string, Uint8Array] | undefined> => guarded(() => {
        const values = client.getMany(bucket.store, keys);
        return values.map((v, i): [string, Uint8Array] | undefined => (v === null ? undefined : [keys[i]!, v]));
      }),
      setMany: (bucket: Bucket, entries: Array<[string, Uint8Array]>): void => guarded(() => client.setMany(bucket.store, entries)),
      deleteMany: (bucket: Bucket, keys: string[]): void => guarded(() => client.deleteMany(bucket.store, keys)),
    },
  };
}
