/**
 * An invocation's caps on stdout (or the buffer output) and stderr: one home for the defaults, used by the
 * agent that enforces them and by the host that refuses a cell sending more than they allow.
 */
import { IsolaError } from '../errors.js';
import type { InvokeRequest } from './types.js';

export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
export const DEFAULT_MAX_STDERR = 64 * 1024;

export interface OutputCaps {
  stdout: number;
  stderr: number;
}

export function outputCaps(req: InvokeRequest): OutputCaps {
  return { stdout: cap(req.maxOutputBytes, DEFAULT_MAX_OUTPUT, 'maxOutputBytes'), stderr: cap(req.maxStderrBytes, DEFAULT_MAX_STDERR, 'maxStderrBytes') };
}

function cap(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new IsolaError('USAGE', `invalid ${name} ${String(value)} (must be a whole number of bytes >= 0)`);
  return value;
}
