// The componentize-js wasi:http handler (test/fixtures/components/src/fetch-handler.js), committed gzipped:
// unpacked once per process into a temporary file.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fromRoot } from './root.js';

let path: string | undefined;

export function fetchHandlerPath(): string {
  if (path === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'isola-fetch-handler-'));
    path = join(dir, 'fetch-handler.wasm');
    writeFileSync(path, gunzipSync(readFileSync(fromRoot('test', 'fixtures', 'components', 'fetch-handler.wasm.gz'))));
  }
  return path;
}
