/**
 * IsolaError → HTTP status and the one-line reason a client may see. Anything that is not an IsolaError is
 * a bug: it becomes a bare 500 and the details go to the log only.
 */
import { isIsolaError, type IsolaErrorCode } from '../errors.js';

const STATUS: Partial<Record<IsolaErrorCode, number>> = {
  USAGE: 400,
  MANIFEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  OVERLOADED: 503,
  CELL_CLOSED: 503,
  CANCELLED: 503,
  TIMEOUT: 504,
};

/** Codes that describe what a module is, not what the host did: a client error when it is being uploaded. */
const MODULE_CODES = new Set<IsolaErrorCode>(['DECODE', 'INVALID', 'COMPONENT', 'LINK', 'NO_EXPORT', 'MEMORY_LIMIT', 'ARTIFACT']);

/** Codes whose message is about the guest or the request and safe to show; others may name host paths. */
const PUBLIC_CODES = new Set<IsolaErrorCode>([
  'TRAP', 'FUEL', 'TIMEOUT', 'MEMORY_LIMIT', 'BUFFER', 'EXIT', 'CELL_CRASHED', 'CELL_PROTOCOL', 'CELL_CLOSED',
  'CANCELLED', 'OVERLOADED', 'NOT_FOUND', 'TOO_LARGE', 'CONFLICT', 'MANIFEST', 'USAGE', 'DECODE', 'INVALID',
  'COMPONENT', 'LINK', 'NO_EXPORT', 'BAD_ARGS', 'BAD_RESPONSE',
]);

export function httpStatusFor(e: unknown, context: 'request' | 'admin'): number {
  if (!isIsolaError(e)) return 500;
  const explicit = e.detail['status'];
  if (typeof explicit === 'number' && explicit >= 400 && explicit < 600) return explicit;
  if (context === 'admin' && MODULE_CODES.has(e.code)) return 400;
  return STATUS[e.code] ?? 500;
}

/** One printable line, at most 200 characters, safe for a header and for a client to read. */
export function publicReason(e: unknown): string {
  if (!isIsolaError(e) || !PUBLIC_CODES.has(e.code)) return 'internal error';
  return oneLine(e.message);
}

export function oneLine(text: string): string {
  const line = text.split('\n', 1)[0]!.replace(/[^\x20-\x7e]/g, '?');
  return line.length > 200 ? line.slice(0, 197) + '...' : line;
}
