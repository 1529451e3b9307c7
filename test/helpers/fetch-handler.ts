// The componentize-js wasi:http handlers (test/fixtures/components/src/<name>.js), committed gzipped: each
// unpacked once per process into a temporary file, removed when the process exits.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fromRoot } from './root.js';

/** The gzipped component fixtures: src/fetch-handler.js (fetch, echo) and src/kv-fetch.js (wasi:keyvalue). */
export type GzComponent = 'fetch-handler' | 'kv-fetch';

const paths = new Map<GzComponent, string>();
let dir: string | undefined;

/** test/fixtures/components/<name>.wasm.gz unpacked: the path of the .wasm. */
export function gzComponentPath(name: GzComponent): string {
  let path = paths.get(name);
  if (path === undefined) {
    if (dir === undefined) {
      const made = mkdtempSync(join(tmpdir(), 'isola-js-components-'));
      process.once('exit', () => rmSync(made, { recursive: true, force: true }));
      dir = made;
    }
    path = join(dir, `${name}.wasm`);
    writeFileSync(path, gunzipSync(readFileSync(fromRoot('test', 'fixtures', 'components', `${name}.wasm.gz`))));
    paths.set(name, path);
  }
  return path;
}

export function fetchHandlerPath(): string {
  return gzComponentPath('fetch-handler');
}
