// The project root, from dist/fuzz/ (compiled) or fuzz/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let dir = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) dir = dirname(dir);
const ROOT = dir;

export const fromRoot = (...parts: string[]): string => join(ROOT, ...parts);
