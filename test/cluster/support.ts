// The cluster tests' guests, and the real cluster they run on (support/cluster.ts, shared with bench:cluster).
import { readFileSync } from 'node:fs';
import { fromRoot } from '../helpers/root.js';

export * from '../../support/cluster.js';
export const HELLO = readFileSync(fromRoot('test/fixtures/cgi/hello.wasm'));
export const ENV = readFileSync(fromRoot('test/fixtures/cgi/env.wasm'));
export const STDERR = readFileSync(fromRoot('test/fixtures/cgi/stderr.wasm'));
