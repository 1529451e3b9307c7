/**
 * The one mapping from an error to what an HTTP client sees and what the audit record says. The server
 * renders failed invocations with `errorResponse`; the orchestrator records outcomes with `outcomeFor`.
 * Messages shown to clients are one line and never carry host details (paths, stacks).
 */
import { IsolaError, type IsolaErrorCode } from '../errors.js';
import type { HttpResponseDescriptor, InvocationRecord } from './types.js';

const STATUS: Partial<Record<IsolaErrorCode, number>> = {
  NOT_FOUND: 404,
  TOO_LARGE: 413,
  OVERLOADED: 503,
  CELL_CLOSED: 503, // shutting down or the version was retired: try again
  UNAVAILABLE: 503, // a key-value store did not answer (admin kv calls)
  TIMEOUT: 504,
  CANCELLED: 499, // the client went away (nginx's code); nobody reads it but the log
  MANIFEST: 400,
  USAGE: 400,
  DECODE: 400,
  INVALID: 400,
  COMPONENT: 400,
  CONFLICT: 409,
  FORBIDDEN: 403,
  // Guest failures: TRAP, FUEL, MEMORY_LIMIT, LINK, CELL_CRASHED, CELL_PROTOCOL, BAD_RESPONSE, … → 500.
};

/** Guest-caused codes whose message is safe and useful to show (`wasm trap: unreachable`). */
const SHOWN: ReadonlySet<IsolaErrorCode> = new Set<IsolaErrorCode>([
  'TRAP', 'FUEL', 'TIMEOUT', 'MEMORY_LIMIT', 'LINK', 'CELL_CRASHED', 'CELL_PROTOCOL', 'BAD_RESPONSE', 'OVERLOADED',
  'NOT_FOUND', 'TOO_LARGE', 'CELL_CLOSED', 'CANCELLED', 'MANIFEST', 'DECODE', 'INVALID', 'COMPONENT', 'CONFLICT', 'USAGE',
  'FORBIDDEN', 'UNAVAILABLE',
]);

export function httpStatusFor(e: unknown): number {
  return e instanceof IsolaError ? STATUS[e.code] ?? 500 : 500;
}

/** One line for `x-isola-error` and the log: the error's own message when it is guest-caused, else a generic one. */
export function errorTextFor(e: unknown, maxLength = 200): string {
  if (e instanceof IsolaError && SHOWN.has(e.code)) return e.message.split('\n')[0]!.replace(/[^\x20-\x7e]/g, '?').slice(0, maxLength);
  return 'internal error';
}

export function outcomeFor(e: unknown): InvocationRecord['outcome'] {
  if (!(e instanceof IsolaError)) return 'error';
  switch (e.code) {
    case 'TRAP': return 'trap';
    case 'FUEL': return 'fuel';
    case 'TIMEOUT': return 'timeout';
    case 'MEMORY_LIMIT': return 'memory';
    case 'CELL_CRASHED': case 'CELL_PROTOCOL': return 'crash';
    case 'OVERLOADED': return 'overloaded';
    case 'CANCELLED': return 'cancelled';
    default: return 'error';
  }
}

/** Audit detail: the trap kind for traps (`unreachable`), the error code otherwise. */
export function outcomeDetailFor(e: unknown): string {
  if (!(e instanceof IsolaError)) return 'internal';
  if (e.code === 'TRAP' && typeof e.detail.kind === 'string') return e.detail.kind;
  return e.code;
}

/** A short text/plain response for a failed request: status by code, reason in `x-isola-error`, `retry-after` on 503. */
export function errorResponse(e: unknown): HttpResponseDescriptor {
  const status = httpStatusFor(e);
  const text = errorTextFor(e);
  const headers: Array<[string, string]> = [['content-type', 'text/plain; charset=utf-8'], ['x-isola-error', text]];
  if (status === 503) headers.push(['retry-after', '1']);
  return { status, headers, body: new TextEncoder().encode(`${text}\n`) };
}
