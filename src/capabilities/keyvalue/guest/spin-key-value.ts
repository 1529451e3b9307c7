/**
 * Spin's own key-value interface, `fermyon:spin/key-value@2.0.0` (what the Spin JS and Python SDKs import), over
 * the same KvClient as wasi:keyvalue: a Spin component that uses `Store.open("default")` runs against isola's
 * stores unchanged. `get-keys` walks every page of the listing (each page is one store call, so max-kv-calls
 * bounds it).
 */
import type { KvClient } from './client.js';
import { guarded } from './wasi-keyvalue.js'; // the same three errors: no-such-store, access-denied, other(string)

const utf8 = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** The interface's `store` resource; each instance's client is the invocation's. */
function storeClass(client: KvClient) {
  return class Store {
    /** @internal made by `open` only. */
    constructor(private readonly name: string) {}

    static open(label: string): Store {
      return guarded(() => {
        client.open(label);
        return new Store(label);
      });
    }

    get(key: string): Uint8Array | undefined {
      return guarded(() => client.get(this.name, key) ?? undefined);
    }

    set(key: string, value: Uint8Array): void {
      guarded(() => client.set(this.name, key, value));
    }

    delete(key: string): void {
      guarded(() => client.delete(this.name, key));
    }

    exists(key: string): boolean {
      return guarded(() => client.exists(this.name, key));
    }

    getKeys(): string[] {
      return guarded(() => {
        const keys: string[] = [];
        let cursor: Uint8Array = EMPTY;
        do {
          const page = client.listKeys(this.name, EMPTY, cursor);
          for (const k of page.keys) keys.push(utf8.decode(k));
          cursor = page.cursor;
        } while (cursor.length > 0);
        return keys;
      });
    }
  };
}

export function spinKeyValueImports(client: KvClient): Record<'fermyon:spin/key-value', Record<string, unknown>> {
  return { 'fermyon:spin/key-value': { Store: storeClass(client) } };
}
