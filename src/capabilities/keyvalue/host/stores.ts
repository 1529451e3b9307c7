/**
 * The server's key-value stores, by name: configured ones (config.ts) and, for any other name a function is
 * granted, an embedded store under the data directory. Names are scoped to the server: every function granted
 * `cache` reaches the same store. Backends open on first use (configured ones at start, so a store that cannot
 * open stops the server with its name) and stay open until close(); a backend reconnects by itself.
 */
import { resolve } from 'node:path';
import { IsolaError } from '../../../errors.js';
import { embeddedSettings, type StoreSettings } from '../config.js';
import { describeBackend, openBackend } from './backends/open-backend.js';
import { KvBackendError, type KvBackend } from './backends/types.js';

/** One finished store call, for metrics. */
export interface KvOpRecord {
  store: string;
  op: string;
  /** 'ok', or the error's kind (unavailable, too-large, …). */
  outcome: string;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

export interface KvStoresOptions {
  /** Embedded stores without a path live in `<dataDir>/kv/NAME`. */
  dataDir: string;
  settings?: Map<string, StoreSettings>;
  /** Sees every store call (the server's metrics). */
  observe?: (r: KvOpRecord) => void;
  /** A backend call that has not answered by then fails as unavailable (default 5 s). */
  opTimeoutMs?: number;
}

export class KvStores {
  private readonly opened = new Map<string, Promise<KvBackend>>();
  /** Each store's settings, worked out once (every store call reads them). */
  private readonly known = new Map<string, StoreSettings>();
  private closed = false;

  constructor(private readonly opts: KvStoresOptions) {}

  /** The store's settings: its table's, or the embedded default. */
  settings(name: string): StoreSettings {
    let s = this.known.get(name);
    if (s === undefined) {
      const own = this.opts.settings?.get(name);
      const defaultPath = resolve(this.opts.dataDir, 'kv', name);
      if (own === undefined) s = embeddedSettings(defaultPath);
      else if (own.config.type === 'embedded' && own.config.path === '') s = { ...own, config: { ...own.config, path: defaultPath } };
      else s = own;
      this.known.set(name, s);
    }
    return s;
  }

  /** Configured store names. */
  configured(): string[] {
    return [...(this.opts.settings?.keys() ?? [])];
  }

  /** Stores opened so far (configured or used). */
  openNames(): string[] {
    return [...this.opened.keys()];
  }

  observe(r: KvOpRecord): void {
    this.opts.observe?.(r);
  }

  /** Opens every configured store: the first that cannot open is an error naming it. */
  async openConfigured(): Promise<void> {
    for (const name of this.configured()) await this.backend(name);
  }

  /** The store's backend, opened once. A failed open is not kept: the next use tries again. */
  backend(name: string): Promise<KvBackend> {
    if (this.closed) return Promise.reject(new IsolaError('UNAVAILABLE', `key-value store "${name}": the server is closing`));
    const known = this.opened.get(name);
    if (known !== undefined) return known;
    const { config } = this.settings(name);
    const opening: Promise<KvBackend> = openBackend(config, { opTimeoutMs: this.opts.opTimeoutMs }).catch((e: unknown) => {
      this.opened.delete(name);
      // A backend's own errors name where it is; anything else gets the description.
      const where = e instanceof KvBackendError ? '' : ` (${describeBackend(config)})`;
      throw new IsolaError('UNAVAILABLE', `key-value store "${name}"${where}: ${(e as Error).message}`);
    });
    this.opened.set(name, opening);
    return opening;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.opened.values()];
    this.opened.clear();
    await Promise.allSettled(all.map(async (b) => (await b).close()));
  }
}
