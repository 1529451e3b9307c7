// A store in a Redis server (the keys of the URL's database, as they are: other programs may share them).
// ioredis is configured so nothing waits unboundedly: each command times out (opTimeoutMs); no offline queue,
// so while Redis is down a call fails at once with 'unavailable' instead of waiting for a reconnection; no
// resending of the commands in flight when a connection drops (an INCRBY that reached Redis must not be
// applied twice). The client reconnects in the background for ever, so the store comes back with Redis.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { decodeCursor, encodeCursor } from './cursor.js';
import { redactUrl } from './redact.js';
import { oneLine, timeouts, withTimeout } from './timeout.js';
import { KvBackendError, type BackendOptions, type KeyPage, type KvBackend, type Versioned } from './types.js';

// The version of a value is its SHA-1 (what Lua's redis.sha1hex computes), so the check runs in Redis.
const ABSENT_VERSION = 'absent';
const CAS_SCRIPT = `
local v = redis.call('GET', KEYS[1])
local version = '${ABSENT_VERSION}'
if v then version = redis.sha1hex(v) end
if version ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;
// SCAN round trips one listKeys may make to fill a page when MATCH filters out most of what SCAN visits.
const MAX_SCANS_PER_PAGE = 10;

const versionOf = (value: Uint8Array | null): string =>
  value === null ? ABSENT_VERSION : createHash('sha1').update(value).digest('hex');
const asBuffer = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
// MATCH is a glob: the prefix's own * ? [ ] \ must match literally.
const globPrefix = (prefix: string): string => `${prefix.replace(/[\\*?[\]]/g, '\\$&')}*`;

/**
 * A listing position: the SCAN cursor to run next ('' once SCAN has come back to 0) and the keys SCAN already
 * answered that did not fit the last page. A SCAN cursor is never run twice: Redis rehashes its table
 * incrementally, so the same cursor may answer a different batch the next time, and resuming inside a batch by
 * count or by its last key repeats or skips keys. Each SCAN asks for about what the page still lacks, so what
 * overflows is a bucket's worth of keys and the cursor stays small.
 */
interface ScanPosition {
  scan: string;
  pending: string[];
}

function encodeScanPosition(p: ScanPosition): string {
  return encodeCursor(JSON.stringify([p.scan, ...p.pending]));
}

function decodeScanPosition(cursor: string | undefined): ScanPosition {
  if (cursor === undefined) return { scan: '0', pending: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeCursor(cursor));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((k) => typeof k === 'string') || !/^[0-9]{0,20}$/.test(parsed[0] ?? '-')) {
    throw new KvBackendError('invalid', 'not a cursor of this listing');
  }
  const [scan, ...pending] = parsed as string[];
  return { scan: scan!, pending };
}

export class RedisBackend implements KvBackend {
  readonly type = 'redis' as const;
  private closed = false;
  private lastError = '';

  private constructor(
    private readonly where: string,
    private readonly client: Redis,
    private readonly opTimeoutMs: number,
  ) {
    // ioredis emits 'error' for every failed connection attempt: unhandled, that would end the process.
    client.on('error', (err: unknown) => { this.lastError = oneLine(err); });
  }

  /** Connects; fails within connectTimeoutMs with 'unavailable' if no Redis answers at `url`. */
  static async open(url: string, options?: BackendOptions): Promise<RedisBackend> {
    const { opTimeoutMs, connectTimeoutMs } = timeouts(options);
    const where = `redis at ${redactUrl(url)}`;
    if (!/^rediss?:\/\//i.test(url)) throw new KvBackendError('other', `${where}: not a redis:// or rediss:// URL`);
    let client: Redis;
    try {
      client = new Redis(url, {
        lazyConnect: true,
        connectTimeout: connectTimeoutMs,
        commandTimeout: opTimeoutMs,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        stringNumbers: true, // INCRBY's 64-bit answers as text, not rounded to a double
        retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
      });
    } catch (err) {
      throw new KvBackendError('other', `${where}: ${oneLine(err)}`);
    }
    const backend = new RedisBackend(where, client, opTimeoutMs);
    try {
      await withTimeout(client.connect(), connectTimeoutMs, 'connect');
    } catch (err) {
      client.disconnect(); // stop reconnecting
      throw new KvBackendError('unavailable', `${where} is unreachable: ${backend.lastError || oneLine(err)}`);
    }
    return backend;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.call('get', () => this.client.getBuffer(key));
  }

  set(key: string, value: Uint8Array): Promise<void> {
    return this.call('set', async () => { await this.client.set(key, asBuffer(value)); });
  }

  delete(key: string): Promise<void> {
    return this.deleteMany([key]);
  }

  exists(key: string): Promise<boolean> {
    return this.call('exists', async () => Number(await this.client.exists(key)) > 0);
  }

  listKeys(prefix: string, cursor: string | undefined, limit: number): Promise<KeyPage> {
    return this.call('list keys', async () => {
      const at = decodeScanPosition(cursor);
      const keys: string[] = [];
      const overflow: string[] = [];
      const seen = new Set<string>(); // SCAN may answer a key twice; one page never shows it twice
      const take = (found: string[]): void => {
        for (const k of found) {
          if (seen.has(k) || !k.startsWith(prefix)) continue; // a forged cursor's keys outside the prefix are dropped
          seen.add(k);
          (keys.length < limit ? keys : overflow).push(k);
        }
      };
      take(at.pending);
      let scan = at.scan;
      for (let round = 0; round < MAX_SCANS_PER_PAGE && keys.length < limit && scan !== ''; round++) {
        const [next, found] = await this.client.scan(scan, 'MATCH', globPrefix(prefix), 'COUNT', limit - keys.length);
        take(found);
        scan = next === '0' ? '' : next;
      }
      if (scan === '' && overflow.length === 0) return { keys };
      return { keys, cursor: encodeScanPosition({ scan, pending: overflow }) };
    });
  }

  increment(key: string, delta: bigint): Promise<bigint> {
    return this.call('increment', async () => BigInt(String(await this.client.incrby(key, delta.toString()))));
  }

  read(key: string): Promise<Versioned> {
    return this.call('read', async () => {
      const value = await this.client.getBuffer(key);
      return { value, version: versionOf(value) };
    });
  }

  compareAndSwap(key: string, version: string, value: Uint8Array): Promise<boolean> {
    return this.call('compare-and-swap', async () => String(await this.client.eval(CAS_SCRIPT, 1, key, version, asBuffer(value))) === '1');
  }

  getMany(keys: string[]): Promise<Array<Uint8Array | null>> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.call('get', () => this.client.mgetBuffer(...keys));
  }

  setMany(entries: Array<[string, Uint8Array]>): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.call('set', async () => { await this.client.mset(...entries.flatMap(([k, v]) => [k, asBuffer(v)])); });
  }

  deleteMany(keys: string[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return this.call('delete', async () => { await this.client.del(...keys); });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Not QUIT: it would wait for an answer from a Redis that may be gone. Pending commands reject.
    this.client.disconnect();
  }

  /** Runs `op` bounded in time, its failure a KvBackendError. */
  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new KvBackendError('unavailable', `${this.where} is closed`);
    if (this.client.status !== 'ready') {
      throw new KvBackendError('unavailable', `${this.where} is unreachable (reconnecting${this.lastError ? `: ${this.lastError}` : ''})`);
    }
    try {
      return await withTimeout(op(), this.opTimeoutMs, `${this.where}: ${what}`);
    } catch (err) {
      throw this.translate(err, what);
    }
  }

  private translate(err: unknown, what: string): KvBackendError {
    if (err instanceof KvBackendError) return err;
    const message = oneLine(err);
    if (/not an integer|out of range|overflow|WRONGTYPE/i.test(message)) return new KvBackendError('invalid', `${this.where}: ${what}: ${message}`);
    if (/^OOM /.test(message)) return new KvBackendError('quota', `${this.where}: store is full (${message})`);
    // Redis answered with an error (not a failure to answer): something this module did not expect.
    if (err instanceof Error && err.name === 'ReplyError') return new KvBackendError('other', `${this.where}: ${what} failed: ${message}`);
    return new KvBackendError('unavailable', `${this.where}: ${what} failed: ${message}`);
  }
}
