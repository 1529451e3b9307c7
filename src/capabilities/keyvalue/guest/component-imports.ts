/** Every key-value interface a component is given, over one client: wasi:keyvalue 0.2.0-draft2 and Spin's fermyon:spin/key-value. */
import type { KvClient } from './client.js';
import { spinKeyValueImports } from './spin-key-value.js';
import { wasiKeyValueImports } from './wasi-keyvalue.js';

export function componentKeyValueImports(client: KvClient): Record<string, Record<string, unknown>> {
  return { ...wasiKeyValueImports(client), ...spinKeyValueImports(client) };
}
