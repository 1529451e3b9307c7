// The embedded store: one LMDB environment in a folder on the server's disk. Every write is one
// `transaction(() => …)`: lmdb-js batches the callbacks queued in an event turn into one LMDB write
// transaction committed off the main thread, so a read-modify-write in a callback (increment, compare-and-swap,
// the quota check) is atomic without blocking the event loop on fsync. A resolved write is committed: LMDB's
// committed pages are in the OS page cache, so they survive the process being killed (lmdb-js's default
// overlappingSync keeps the latest committed transaction while the machine has not rebooted); only power loss
// can cost the writes of the last moments, which we accept rather than pay an fsync per call.
import { createHash } from 'node:crypto';
import { open, type Database, type RootDatabase } from 'lmdb';
import { decodeCursor, encodeCursor } from './cursor.js';
import { addChecked, counterBytes, parseCounter } from './counter.js';
import { oneLine, timeouts, withTimeout } from './timeout.js';
import { KvBackendError, type BackendOptions, type KeyPage, type KvBackend, type Versioned } from './types.js';

/** What one write transaction does: each key's new value (null: delete it). */
type Changes = Map<string, Uint8Array | null>;

// The key of the running total of key+value bytes, in its own sub-database. Guest keys live in the 'data'
// sub-database, never in the root one: LMDB keeps the names of sub-databases as keys of the root database.
const USED = 'usedBytes';
const ABSENT_VERSION = 'absent';
const ZERO = Buffer.from([0]);

const keyBytes = (key: string): Buffer => Buffer.from(key, 'utf8');
const versionOf = (value: Uint8Array | null): string =>
  value === null ? ABSENT_VERSION : createHash('sha256').update(value).digest('base64url');

export class EmbeddedBackend implements KvBackend {
  readonly type = 'embedded' as const;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly path: string,
    private readonly root: RootDatabase,
    private readonly data: Database<Buffer, Buffer>,
    private readonly meta: Database<number, string>,
    private readonly quotaBytes: number | undefined,
    private readonly opTimeoutMs: number,
  ) {}

  /** Opens (creating if needed) the store in the folder `path`. */
  static async open(path: string, quotaBytes?: number, options?: BackendOptions): Promise<EmbeddedBackend> {
    let root: RootDatabase;
    try {
      root = open({ path, maxDbs: 4 });
    } catch (err) {
      throw new KvBackendError('unavailable', `embedded store at ${path} cannot be opened: ${oneLine(err)}`);
    }
    const data = root.openDB<Buffer, Buffer>({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
    const meta = root.openDB<number, string>({ name: 'meta' });
    const backend = new EmbeddedBackend(path, root, data, meta, quotaBytes, timeouts(options).opTimeoutMs);
    try {
      // A new store starts the running total (counting whatever is there, should a store predate it).
      if (meta.get(USED) === undefined) {
        await root.transaction(() => {
          if (meta.get(USED) === undefined) meta.putSync(USED, backend.countBytes());
        });
      }
    } catch (err) {
      await backend.close();
      throw new KvBackendError('unavailable', `embedded store at ${path} cannot be opened: ${oneLine(err)}`);
    }
    return backend;
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.read(key).then((r) => r.value);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await this.mutate(`set ${JSON.stringify(key)}`, () => ({ changes: new Map([[key, value]]), result: undefined }));
  }

  async delete(key: string): Promise<void> {
    await this.deleteMany([key]);
  }

  async exists(key: string): Promise<boolean> {
    return this.reading(() => this.data.doesExist(keyBytes(key)));
  }

  async listKeys(prefix: string, cursor: string | undefined, limit: number): Promise<KeyPage> {
    const p = keyBytes(prefix);
    let start: Buffer | undefined = p.length > 0 ? p : undefined;
    if (cursor !== undefined) {
      const after = keyBytes(decodeCursor(cursor));
      if (!after.subarray(0, p.length).equals(p)) throw new KvBackendError('invalid', 'not a cursor of this listing');
      start = Buffer.concat([after, ZERO]); // the first key after `after` (keys hold no NUL)
    }
    // One more than the page, to know whether another page follows.
    const keys = this.reading(() => {
      const found: string[] = [];
      for (const k of this.data.getKeys({ start })) {
        if (!k.subarray(0, p.length).equals(p) || found.length > limit) break;
        found.push(k.toString('utf8'));
      }
      return found;
    });
    if (keys.length <= limit) return { keys };
    keys.pop();
    return { keys, cursor: encodeCursor(keys[keys.length - 1]!) };
  }

  async increment(key: string, delta: bigint): Promise<bigint> {
    return this.mutate(`increment ${JSON.stringify(key)}`, () => {
      const n = addChecked(key, parseCounter(key, this.stored(key)), delta);
      return { changes: new Map([[key, counterBytes(n)]]), result: n };
    });
  }

  async read(key: string): Promise<Versioned> {
    const value = this.reading(() => this.stored(key));
    return { value, version: versionOf(value) };
  }

  async compareAndSwap(key: string, version: string, value: Uint8Array): Promise<boolean> {
    return this.mutate(`compare-and-swap ${JSON.stringify(key)}`, () =>
      versionOf(this.stored(key)) === version
        ? { changes: new Map([[key, value]]), result: true }
        : { changes: new Map(), result: false });
  }

  async getMany(keys: string[]): Promise<Array<Uint8Array | null>> {
    return this.reading(() => keys.map((k) => this.stored(k)));
  }

  async setMany(entries: Array<[string, Uint8Array]>): Promise<void> {
    await this.mutate(`set of ${entries.length} keys`, () => ({ changes: new Map(entries), result: undefined }));
  }

  async deleteMany(keys: string[]): Promise<void> {
    await this.mutate(`delete of ${keys.length} keys`, () => ({ changes: new Map(keys.map((k) => [k, null])), result: undefined }));
  }

  close(): Promise<void> {
    // root.close() waits for queued transactions; calls made after this reject in checkOpen.
    this.closing ??= this.root.close().catch(() => {});
    return this.closing;
  }

  /** The committed value (inside a write transaction: the transaction's). */
  private stored(key: string): Uint8Array | null {
    return this.data.get(keyBytes(key)) ?? null;
  }

  /**
   * Runs `decide` in a write transaction and applies the changes it returns, keeping the byte total exact and
   * refusing, before writing anything, changes that would grow the store past its quota. `decide` may throw a
   * KvBackendError, also before anything is written.
   */
  private async mutate<T>(what: string, decide: () => { changes: Changes; result: T }): Promise<T> {
    this.checkOpen();
    const done = this.root.transaction(() => {
      const { changes, result } = decide();
      const used = this.meta.get(USED) ?? 0;
      let grown = 0;
      for (const [key, value] of changes) {
        const old = this.stored(key);
        const k = keyBytes(key).length;
        grown += (value === null ? 0 : k + value.length) - (old === null ? 0 : k + old.length);
      }
      if (this.quotaBytes !== undefined && grown > 0 && used + grown > this.quotaBytes) return { full: true as const };
      for (const [key, value] of changes) {
        if (value === null) this.data.removeSync(keyBytes(key));
        else this.data.putSync(keyBytes(key), Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
      if (grown !== 0) this.meta.putSync(USED, used + grown);
      return { full: false as const, result };
    });
    const outcome = await withTimeout(done, this.opTimeoutMs, `embedded store at ${this.path}: ${what}`).catch((err: unknown) => {
      throw err instanceof KvBackendError ? err : new KvBackendError('other', `embedded store at ${this.path}: ${what} failed: ${oneLine(err)}`);
    });
    if (outcome.full) throw new KvBackendError('quota', `store at ${this.path} is full (quota ${this.quotaBytes} bytes)`);
    return outcome.result;
  }

  private countBytes(): number {
    let total = 0;
    for (const { key, value } of this.data.getRange()) total += key.length + value.length;
    return total;
  }

  /** A synchronous read of the committed state, its failure a KvBackendError. */
  private reading<T>(read: () => T): T {
    this.checkOpen();
    try {
      return read();
    } catch (err) {
      throw new KvBackendError('other', `embedded store at ${this.path}: read failed: ${oneLine(err)}`);
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new KvBackendError('unavailable', `embedded store at ${this.path} is closed`);
  }
}
