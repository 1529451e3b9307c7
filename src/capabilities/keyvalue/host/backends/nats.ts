// A store in a NATS JetStream key-value bucket (history 1; the quota is the bucket's max_bytes, set when this
// creates the bucket: an existing bucket keeps its own, and NATS counts its per-message overhead). The client
// reconnects forever in the background; while it is disconnected every call fails at once with 'unavailable'
// (and calls in flight when the connection drops fail then), so a store that is down costs callers nothing.
// NATS has no server-side add or compare-by-value: increments and compare-and-swap are conditional writes on
// the key's revision (the last sequence of its subject), retried on conflict.
import { ErrorCode, Events, type KV, type KvEntry, type NatsConnection } from 'nats';
import { decodeCursor, encodeCursor } from './cursor.js';
import { addChecked, counterBytes, parseCounter } from './counter.js';
import { KeyedBatches, type Outcome } from './keyed-batches.js';
import { fromNatsKey, listingFilter, toNatsKey } from './nats-keys.js';
import { closeQuietly, connectNats } from './nats-connect.js';
import { redactUrl } from './redact.js';
import { oneLine, timeouts, withTimeout } from './timeout.js';
import { KvBackendError, type BackendOptions, type KeyPage, type KvBackend, type Versioned } from './types.js';

// JetStream's "wrong last sequence": a conditional write lost to another writer.
const WRONG_LAST_SEQUENCE = 10071;
// Conflicts only come from other processes (this one batches its increments per key): past this many in a
// row the store is too contended to answer in time.
const MAX_ATTEMPTS = 100;
const ABSENT_VERSION = '0';

const live = (e: KvEntry | null): e is KvEntry => e !== null && e.operation === 'PUT';
const apiErrorCode = (err: unknown): number | undefined =>
  (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;

export class NatsBackend implements KvBackend {
  readonly type = 'nats' as const;
  private connected = true;
  private closing: Promise<void> | undefined;
  /** Rejecters of the calls in flight, called when the connection drops. */
  private readonly inFlight = new Set<(err: KvBackendError) => void>();
  private readonly increments = new KeyedBatches<bigint, bigint>((key, deltas) => this.addAll(key, deltas));

  private constructor(
    private readonly where: string,
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly quotaBytes: number | undefined,
    private readonly opTimeoutMs: number,
  ) {
    void this.watchConnection();
  }

  /** Connects and opens (creating it if needed) the bucket; fails within connectTimeoutMs if nothing answers. */
  static async open(url: string, bucket: string, quotaBytes?: number, options?: BackendOptions): Promise<NatsBackend> {
    const { opTimeoutMs, connectTimeoutMs } = timeouts(options);
    const where = `nats at ${redactUrl(url)}`;
    if (!/^[-\w]+$/.test(bucket)) {
      throw new KvBackendError('other', `${where}: bucket name ${JSON.stringify(bucket)} is not valid (letters, digits, - and _)`);
    }
    let nc: NatsConnection;
    try {
      nc = await connectNats({ servers: url, name: 'isola', connectTimeoutMs });
    } catch (err) {
      throw new KvBackendError('unavailable', `${where} is unreachable: ${oneLine(err)}`);
    }
    try {
      const js = nc.jetstream({ timeout: opTimeoutMs });
      const kv = await withTimeout(js.views.kv(bucket, { history: 1, max_bytes: quotaBytes }), connectTimeoutMs, 'JetStream');
      return new NatsBackend(`${where}, bucket ${bucket}`, nc, kv, quotaBytes, opTimeoutMs);
    } catch (err) {
      await closeQuietly(nc);
      const why = oneLine(err) === '503' ? 'JetStream is not enabled on the server' : oneLine(err);
      throw new KvBackendError('unavailable', `${where}: bucket ${bucket} cannot be opened: ${why}`);
    }
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.call('get', async () => this.live(key).then((e) => (e ? e.value : null)));
  }

  set(key: string, value: Uint8Array): Promise<void> {
    return this.call('set', async () => { await this.kv.put(toNatsKey(key), value); });
  }

  delete(key: string): Promise<void> {
    return this.call('delete', async () => { await this.kv.delete(toNatsKey(key)); });
  }

  exists(key: string): Promise<boolean> {
    return this.call('exists', async () => (await this.live(key)) !== null);
  }

  listKeys(prefix: string, cursor: string | undefined, limit: number): Promise<KeyPage> {
    return this.call('list keys', async () => {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      // NATS lists a bucket's keys in no useful order and cannot start after a key: list (narrowed by a
      // subject filter), sort, and page by the last key returned.
      const all: string[] = [];
      for await (const natsKey of await this.kv.keys(listingFilter(prefix))) {
        const key = fromNatsKey(natsKey);
        if (key !== null && key.startsWith(prefix) && (after === undefined || key > after)) all.push(key);
      }
      all.sort();
      if (all.length <= limit) return { keys: all };
      const keys = all.slice(0, limit);
      return { keys, cursor: encodeCursor(keys[keys.length - 1]!) };
    });
  }

  increment(key: string, delta: bigint): Promise<bigint> {
    let cancel = (): void => {};
    return this.call('increment', () => {
      const queued = this.increments.add(key, delta);
      cancel = queued.cancel;
      return queued.result;
    }).catch((err: unknown) => {
      cancel(); // given up on (timeout, connection lost): not applied if its batch has not started
      throw err;
    });
  }

  read(key: string): Promise<Versioned> {
    return this.call('read', async () => {
      const e = await this.kv.get(toNatsKey(key));
      return { value: live(e) ? e.value : null, version: e === null ? ABSENT_VERSION : String(e.revision) };
    });
  }

  compareAndSwap(key: string, version: string, value: Uint8Array): Promise<boolean> {
    if (!/^(0|[1-9][0-9]{0,15})$/.test(version)) {
      return Promise.reject(new KvBackendError('invalid', 'not a version of this store'));
    }
    return this.call('compare-and-swap', async () => {
      try {
        await this.writeAt(toNatsKey(key), value, Number(version));
        return true;
      } catch (err) {
        if (apiErrorCode(err) === WRONG_LAST_SEQUENCE) return false;
        throw err;
      }
    });
  }

  getMany(keys: string[]): Promise<Array<Uint8Array | null>> {
    return this.call('get', () => Promise.all(keys.map((k) => this.live(k).then((e) => (e ? e.value : null)))));
  }

  setMany(entries: Array<[string, Uint8Array]>): Promise<void> {
    return this.call('set', async () => { await Promise.all(entries.map(([k, v]) => this.kv.put(toNatsKey(k), v))); });
  }

  deleteMany(keys: string[]): Promise<void> {
    return this.call('delete', async () => { await Promise.all(keys.map((k) => this.kv.delete(toNatsKey(k)))); });
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.dropInFlight(`${this.where} is closed`);
      this.closing = closeQuietly(this.nc);
    }
    return this.closing;
  }

  /** The live entry of `key` (null: absent or deleted). */
  private async live(key: string): Promise<KvEntry | null> {
    const e = await this.kv.get(toNatsKey(key));
    return live(e) ? e : null;
  }

  /** Writes `value` if the key's last revision is `revision` (0: never written). */
  private async writeAt(natsKey: string, value: Uint8Array, revision: number): Promise<void> {
    // create() also succeeds on a key whose last entry is a delete: that key is absent too.
    if (revision === 0) await this.kv.create(natsKey, value);
    else await this.kv.update(natsKey, value, revision);
  }

  /** One batch of increments of `key`: read, add each delta in turn, write the last sum if still unchanged. */
  private async addAll(key: string, deltas: bigint[]): Promise<Array<Outcome<bigint>>> {
    const natsKey = toNatsKey(key);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const e = await this.kv.get(natsKey);
      let counter: bigint;
      try {
        counter = parseCounter(key, live(e) ? e.value : null);
      } catch (error) {
        return deltas.map(() => ({ error }));
      }
      const outcomes = deltas.map((delta): Outcome<bigint> => {
        try {
          counter = addChecked(key, counter, delta);
          return { value: counter };
        } catch (error) {
          return { error };
        }
      });
      if (outcomes.every((o) => 'error' in o)) return outcomes;
      try {
        await this.writeAt(natsKey, counterBytes(counter), e === null ? 0 : e.revision);
        return outcomes;
      } catch (err) {
        if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
      }
    }
    throw new KvBackendError('unavailable', `${this.where}: increment of ${JSON.stringify(key)} kept conflicting with other writers`);
  }

  /** Runs `op` bounded in time, failing at once while disconnected, and its failure as a KvBackendError. */
  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closing) throw new KvBackendError('unavailable', `${this.where} is closed`);
    if (!this.connected) throw new KvBackendError('unavailable', `${this.where} is unreachable (reconnecting)`);
    let drop!: (err: KvBackendError) => void;
    const dropped = new Promise<never>((_, reject) => { drop = reject; });
    this.inFlight.add(drop);
    try {
      return await withTimeout(Promise.race([op(), dropped]), this.opTimeoutMs, `${this.where}: ${what}`);
    } catch (err) {
      throw this.translate(err, what);
    } finally {
      this.inFlight.delete(drop);
    }
  }

  private translate(err: unknown, what: string): KvBackendError {
    if (err instanceof KvBackendError) return err;
    const message = oneLine(err);
    if (/maximum (bytes|messages)|insufficient resources/i.test(message)) {
      const quota = this.quotaBytes === undefined ? message : `quota ${this.quotaBytes} bytes`;
      return new KvBackendError('quota', `${this.where}: store is full (${quota})`);
    }
    if ((err as { code?: unknown } | null)?.code === ErrorCode.MaxPayloadExceeded) {
      return new KvBackendError('other', `${this.where}: ${what}: the value is larger than the server's max_payload`);
    }
    if (apiErrorCode(err) !== undefined) return new KvBackendError('other', `${this.where}: ${what} failed: ${message}`);
    // The client's own errors (timeout, no responders while JetStream recovers, disconnected, closed).
    return new KvBackendError('unavailable', `${this.where}: ${what} failed: ${message === '503' ? 'no responders' : message}`);
  }

  private dropInFlight(why: string): void {
    for (const drop of this.inFlight) drop(new KvBackendError('unavailable', why));
    this.inFlight.clear();
  }

  /** Follows the connection's state; the client itself reconnects (forever) in the background. */
  private async watchConnection(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (s.type === Events.Disconnect) {
          this.connected = false;
          this.dropInFlight(`${this.where}: connection lost`);
        } else if (s.type === Events.Reconnect) {
          this.connected = true;
        }
      }
    } catch {
      // the status iterator ends with the connection; nothing to report to anyone
    }
  }
}
