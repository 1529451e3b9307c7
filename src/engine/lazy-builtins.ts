/**
 * Node built-ins that only some paths need, loaded on first use: `isola run` of a plain module
 * never hashes or signs anything, and loading node:crypto costs start-up time.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let crypto: typeof import('node:crypto') | undefined;
export const nodeCrypto = (): typeof import('node:crypto') => (crypto ??= require('node:crypto') as typeof import('node:crypto'));

let os: typeof import('node:os') | undefined;
export const nodeOs = (): typeof import('node:os') => (os ??= require('node:os') as typeof import('node:os'));
