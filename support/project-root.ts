// The project root, for tests, benchmarks and fuzzers alike (compiled to dist/…; fixtures, examples and the
// CLI launcher live in the source tree). The one home of this lookup: none of them imports another's helpers.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith(`${'/'}dist`) || dir.includes('/dist/')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('project root not found');
    dir = up;
  }
  return dir;
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const fromRoot = (...parts: string[]): string => join(ROOT, ...parts);
/** The built CLI launcher, for what spawns `isola` as a user would. */
export const CLI = join(ROOT, 'bin', 'isola.js');
