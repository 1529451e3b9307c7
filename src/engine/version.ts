import { readFileSync } from 'node:fs';

let version: string | undefined;

/** isola's own version (from package.json), part of every cache key and artifact. */
export function isolaVersion(): string {
  // dist/src/engine/version.js → the package root is three levels up (src/engine/ in the source tree is two,
  // but only the compiled file runs).
  version ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
