/**
 * The server's use of the orchestrator's one error → HTTP mapping (src/orchestrator/http-status.ts).
 * The only server-side twist: on the admin API, a module that does not link or fit its limits is the
 * uploader's mistake (400), where at request time it is the function's failure (500).
 */
import { isIsolaError, type IsolaErrorCode } from '../errors.js';
import { errorTextFor, httpStatusFor as orchestratorStatusFor } from '../orchestrator/http-status.js';

const MODULE_CODES = new Set<IsolaErrorCode>(['DECODE', 'INVALID', 'COMPONENT', 'LINK', 'NO_EXPORT', 'MEMORY_LIMIT', 'ARTIFACT']);

export function httpStatusFor(e: unknown, context: 'request' | 'admin'): number {
  if (context === 'admin' && isIsolaError(e) && MODULE_CODES.has(e.code)) return 400;
  return orchestratorStatusFor(e);
}

/** One printable line (at most 200 characters) a client may see; host details never. */
export const publicReason = (e: unknown): string => errorTextFor(e);

/** The same for the admin API, whose refusals name host paths and flags and may run longer. */
export const adminReason = (e: unknown): string => errorTextFor(e, 1000);
