// A node's id: given, or kept in <dataDir>/node-id so a node that restarts is the same node to the others.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { IsolaError } from '../errors.js';
import { NODE_ID } from './subjects.js';

export function nodeIdFor(dataDir: string, given?: string): string {
  if (given !== undefined) return given;
  const file = join(dataDir, 'node-id');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (NODE_ID.test(kept)) return kept;
  } catch {
    // none yet: made below
  }
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'node';
  const id = `${host}-${randomBytes(3).toString('hex')}`;
  try {
    writeFileSync(file, `${id}\n`, { mode: 0o600 });
  } catch (e) {
    throw new IsolaError('IO', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return id;
}
