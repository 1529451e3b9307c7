/** The errors a cell itself (not its guest) produces, worded once. */
import { IsolaError } from '../errors.js';

export const cellClosed = (why = 'the cell was closed'): IsolaError => new IsolaError('CELL_CLOSED', why);
export const cancelled = (): IsolaError => new IsolaError('CANCELLED', 'cancelled');

/** `cell crashed (signal SIGKILL)`, `cell crashed (exit code 3)`, `cell crashed (worker terminated)`. */
export function cellCrashed(how: string, detail: Record<string, unknown> = {}): IsolaError {
  return new IsolaError('CELL_CRASHED', `cell crashed (${how})`, detail);
}

/**
 * The same failure for an invocation that was still waiting behind another in the cell when it died: it
 * never ran, so a pool may run it elsewhere (detail.notStarted).
 */
export function notStarted(err: IsolaError): IsolaError {
  return new IsolaError(err.code, err.message, { ...err.detail, notStarted: true });
}

export const wasNotStarted = (e: unknown): boolean =>
  e instanceof IsolaError && (e.detail as { notStarted?: unknown } | undefined)?.notStarted === true;

/** An invocation taken back unstarted from a cell where it waited behind a slow one (see RemoteCell). */
export const takenBack = (): IsolaError =>
  new IsolaError('CELL_CLOSED', 'the invocation waited too long behind another in its cell and was taken back', { notStarted: true, takenBack: true });

export const wasTakenBack = (e: unknown): boolean => wasNotStarted(e) && (e as IsolaError).detail['takenBack'] === true;

export function exitDescription(code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${code ?? 'unknown'}`;
}
