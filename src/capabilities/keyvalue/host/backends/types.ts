/**
 * A key-value backend: where one store's data lives (embedded LMDB, Redis, NATS JetStream KV). The broker
 * (host/broker.ts) checks grants, keys, sizes and call counts before a backend sees a call; a backend only
 * stores. Keys are non-empty UTF-8 strings without NUL, at most a few hundred bytes; values are bytes.
 * Every method rejects with a KvBackendError when the store fails (down, slow, garbage): never hangs past
 * `opTimeoutMs`, never throws synchronously.
 */

/** How a store is configured (`[key-value-store.NAME]` in isola.toml, or the default: embedded). */
export type KvStoreConfig =
  | { type: 'embedded'; path: string; quotaBytes?: number }
  | { type: 'redis'; url: string }
  | { type: 'nats'; url: string; bucket: string; quotaBytes?: number };

/** One page of keys, and the opaque cursor of the next page (none: the listing is complete). */
export interface KeyPage {
  keys: string[];
  cursor?: string;
}

/** A value as read for a compare-and-swap: the bytes (null: absent) and the backend's token of that state. */
export interface Versioned {
  value: Uint8Array | null;
  version: string;
}

export interface KvBackend {
  readonly type: KvStoreConfig['type'];
  get(key: string): Promise<Uint8Array | null>;
  set(key: string, value: Uint8Array): Promise<void>;
  /** Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /**
   * At most about `limit` keys starting with `prefix` (may be ''), from `cursor` (a cursor this backend
   * returned for the same prefix; undefined: the first page). Keys are never repeated across the pages of one
   * listing that nothing modified meanwhile. Order is the backend's.
   */
  listKeys(prefix: string, cursor: string | undefined, limit: number): Promise<KeyPage>;
  /**
   * Atomically adds `delta` to the integer stored at `key` (absent: 0) and returns the new value. The value is
   * kept as its decimal text (what Redis's INCRBY keeps), so every backend reads the others' counters. A value
   * that is not a decimal integer in the signed 64-bit range: KvBackendError('invalid', …).
   */
  increment(key: string, delta: bigint): Promise<bigint>;
  /** The value and a version token for compareAndSwap. */
  read(key: string): Promise<Versioned>;
  /**
   * Sets `value` only if the key is still in the state `version` names (absent included); true when it did.
   * Atomic across concurrent calls, and for Redis and NATS across processes.
   */
  compareAndSwap(key: string, version: string, value: Uint8Array): Promise<boolean>;
  getMany(keys: string[]): Promise<Array<Uint8Array | null>>;
  setMany(entries: Array<[string, Uint8Array]>): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Closes connections and files; pending calls reject. */
  close(): Promise<void>;
}

/** Why a backend call failed: `unavailable` (down, slow, closed), `quota` (the store is full), `invalid` (e.g. a counter that is not one), `other`. */
export type KvBackendFailure = 'unavailable' | 'quota' | 'invalid' | 'other';

export class KvBackendError extends Error {
  constructor(readonly kind: KvBackendFailure, message: string) {
    super(message);
    this.name = 'KvBackendError';
  }
}

/** Options every backend takes. */
export interface BackendOptions {
  /** A call that has not answered by then rejects with 'unavailable' (default 5000). */
  opTimeoutMs?: number;
  /** Opening (connecting, creating the bucket) gives up after this (default 5000). */
  connectTimeoutMs?: number;
}
