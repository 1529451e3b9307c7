// Slow CGI functions for isola, assembled from fixtures/slow-cgi.wat: one that keeps a core busy for a
// while, one that sleeps as long, one that spins until its timeout.
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../support/project-root.js';
import { watToWasm } from '../wat.js';

const WAT = fromRoot('bench', 'http', 'fixtures', 'slow-cgi.wat');

export type SlowKind = { busyMs: number } | { sleepMs: number } | 'forever';

export function slowCgi(kind: SlowKind): Promise<Uint8Array> {
  const wait = kind === 'forever' ? '(call $forever)'
    : 'busyMs' in kind ? `(call $busy (i64.const ${kind.busyMs * 1e6}))` : `(call $sleep (i64.const ${kind.sleepMs * 1e6}))`;
  return watToWasm(readFileSync(WAT, 'utf8').replace('{{WAIT}}', wait), WAT);
}
