/**
 * The cluster's one source of truth, in JetStream: a KV bucket of function records (`fn.<name>`, written only
 * by compare-and-set on the key's revision, so two deploys of one function cannot both win) and a `meta` key
 * naming the format; an object store of module bytes named by their sha256, checked against that name on every
 * fetch (NATS's own digest only proves the bytes are the ones last put under the name, not the right ones).
 */
import { createHash } from 'node:crypto';
import type { KV, KvEntry, NatsConnection, ObjectStore } from 'nats';
import { IsolaError } from '../errors.js';
import { oneLine, withTimeout } from '../capabilities/keyvalue/host/backends/timeout.js';
import type { ClusterNames } from './subjects.js';
import { CLUSTER_FORMAT, parseRecord } from './record.js';
import type { FunctionRecord } from './types.js';

export { CLUSTER_FORMAT };

const META_KEY = 'meta';
const FN_PREFIX = 'fn.';
// JetStream's "wrong last sequence": a conditional write lost to another writer.
const WRONG_LAST_SEQUENCE = 10071;
const apiErrorCode = (err: unknown): number | undefined => (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;

export interface Versioned<T> {
  value: T;
  /** The key's revision: the CAS token of the next write. */
  revision: number;
}

export interface MetaRecord {
  format: number;
  /** Which isola wrote the marker (named in the refusal). */
  writer: string;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class ClusterState {
  private constructor(
    private readonly kv: KV,
    private readonly os: ObjectStore,
    private readonly names: ClusterNames,
    private readonly opTimeoutMs: number,
  ) {}

  /** Opens (creating them the first time) the bucket and the object store, and checks or writes the format marker. */
  static async open(nc: NatsConnection, names: ClusterNames, writer: string, opTimeoutMs = 5000): Promise<ClusterState> {
    const js = nc.jetstream({ timeout: opTimeoutMs });
    const open = async <T>(what: string, work: Promise<T>): Promise<T> => {
      try {
        return await withTimeout(work, opTimeoutMs, what);
      } catch (err) {
        const why = oneLine(err) === '503' ? 'JetStream is not enabled on the NATS server (start it with -js)' : oneLine(err);
        throw new IsolaError('UNAVAILABLE', `cannot open ${what}: ${why}`);
      }
    };
    const kv = await open(`the bucket ${names.functionsBucket}`, js.views.kv(names.functionsBucket, { history: 5 }));
    const os = await open(`the object store ${names.modulesStore}`, js.views.os(names.modulesStore));
    const state = new ClusterState(kv, os, names, opTimeoutMs);
    await state.checkMeta(writer);
    return state;
  }

  private async call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(work(), this.opTimeoutMs, what);
    } catch (err) {
      if (err instanceof IsolaError) throw err;
      throw new IsolaError('UNAVAILABLE', `the cluster did not answer (${what}): ${oneLine(err)}`);
    }
  }

  private async checkMeta(writer: string): Promise<void> {
    const mine: MetaRecord = { format: CLUSTER_FORMAT, writer };
    let entry = await this.call('read the format marker', () => this.kv.get(META_KEY));
    if (entry === null || entry.operation !== 'PUT') {
      try {
        await this.call('write the format marker', () => this.kv.create(META_KEY, JSON.stringify(mine)));
        return;
      } catch {
        entry = await this.call('read the format marker', () => this.kv.get(META_KEY)); // another node made it first
      }
    }
    let meta: Partial<MetaRecord> = {};
    try {
      meta = JSON.parse(entry?.string() ?? '') as Partial<MetaRecord>;
    } catch {
      // a marker that is not JSON is not ours: refused below
    }
    if (meta.format !== CLUSTER_FORMAT) {
      const by = typeof meta.writer === 'string' ? ` by ${meta.writer.slice(0, 80)}` : '';
      throw new IsolaError('CONFLICT', `the bucket ${this.names.functionsBucket} was written${by} in cluster format ${String(meta.format ?? 'unknown').slice(0, 20)}; this isola reads format ${CLUSTER_FORMAT}: refused (use another cluster name, or upgrade)`);
    }
  }

  /** The record of `name` and its revision (null: none); a record that does not parse comes back as `damaged`. */
  async get(name: string): Promise<Versioned<FunctionRecord> | { value: null; revision: number; damaged: string } | null> {
    const e = await this.call(`read ${name}`, () => this.kv.get(FN_PREFIX + name));
    if (e === null || e.operation !== 'PUT') return null;
    try {
      return { value: parseRecord(name, e.value), revision: e.revision };
    } catch (err) {
      return { value: null, revision: e.revision, damaged: (err as Error).message };
    }
  }

  /** Writes `record` if the key is still at `revision` (0: absent); CONFLICT if another write came first. */
  async write(record: FunctionRecord, revision: number, what: string): Promise<number> {
    const data = JSON.stringify(record);
    try {
      return await this.call(`${what} ${record.name}`, () => (revision === 0 ? this.createOrRevive(record.name, data) : this.kv.update(FN_PREFIX + record.name, data, revision)));
    } catch (err) {
      throw this.conflictOr(err, record.name);
    }
  }

  /** A key deleted before has a revision of its own: create() fails on it, so update at that revision. */
  private async createOrRevive(name: string, data: string): Promise<number> {
    try {
      return await this.kv.create(FN_PREFIX + name, data);
    } catch (err) {
      const e = await this.kv.get(FN_PREFIX + name);
      if (e === null || e.operation === 'PUT') throw err;
      return this.kv.update(FN_PREFIX + name, data, e.revision);
    }
  }

  async remove(name: string, revision: number): Promise<void> {
    try {
      await this.call(`remove ${name}`, () => this.kv.delete(FN_PREFIX + name, { previousSeq: revision }));
    } catch (err) {
      throw this.conflictOr(err, name);
    }
  }

  private conflictOr(err: unknown, name: string): unknown {
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (apiErrorCode(err) === WRONG_LAST_SEQUENCE || apiErrorCode(cause) === WRONG_LAST_SEQUENCE || /wrong last sequence|key exists/i.test(oneLine(err))) {
      return new IsolaError('CONFLICT', `function ${name} was changed by another deploy at the same time; nothing was changed by this one (try again)`);
    }
    return err;
  }

  /**
   * Follows every function record: `onChange(name, entry)` for each current one (then `initialized()`), and for
   * each change after (a deleted one: `entry.operation` is DEL or PURGE). Returns: stop.
   */
  async watch(onChange: (name: string, entry: KvEntry) => void, initialized: () => void): Promise<() => void> {
    const it = await this.call('watch functions', () => this.kv.watch({ key: `${FN_PREFIX}>`, initializedFn: initialized }));
    void (async () => {
      try {
        for await (const e of it) onChange(e.key.slice(FN_PREFIX.length), e);
      } catch {
        // the watch ends with the connection; the node restarts it when NATS is back
      }
    })();
    return () => it.stop();
  }

  /** Stores module bytes under their sha256 (unless an object with those very bytes is there already). */
  async putModule(bytes: Uint8Array): Promise<string> {
    const sha = sha256(bytes);
    const info = await this.call(`look up module ${sha.slice(0, 12)}`, () => this.os.info(sha));
    const digest = `SHA-256=${createHash('sha256').update(bytes).digest('base64url')}`;
    if (info !== null && !info.deleted && info.size === bytes.length && normalDigest(info.digest) === digest) return sha;
    await this.call(`store module ${sha.slice(0, 12)}`, () => this.os.putBlob({ name: sha }, bytes));
    return sha;
  }

  /** The bytes stored under `sha`, refused (CONFLICT, not run) unless they hash to it. */
  async getModule(sha: string): Promise<Uint8Array> {
    const bytes = await this.call(`fetch module ${sha.slice(0, 12)}`, () => this.os.getBlob(sha));
    if (bytes === null) throw new IsolaError('NOT_FOUND', `module ${sha} is not in the object store ${this.names.modulesStore}`);
    const got = sha256(bytes);
    if (got !== sha) throw new IsolaError('CONFLICT', `module ${sha.slice(0, 16)}… from the object store hashes to ${got.slice(0, 16)}… (tampered or damaged): refused, not run`, { tampered: true });
    return bytes;
  }
}

/** NATS writes the digest as base64 or base64url depending on the client: compare them as base64url. */
function normalDigest(d: string): string {
  return d.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '').replace(/^SHA-256-/, 'SHA-256=');
}
