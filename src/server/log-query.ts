/**
 * The query of a function's logs, the same on the admin API and in `isola logs`: `since` is a duration back
 * from now (`10m`, `1h`: the server's clock, so a client's skew does not matter) or an ISO 8601 time;
 * `tail` the number of last lines. Both throw IsolaError('USAGE') with a one-line reason.
 */
import { IsolaError } from '../errors.js';
import { parseDuration } from '../engine/units.js';

const ISO_DATE = /^\d{4}-\d\d-\d\d/;

/** `since` → ms since the epoch. */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  if (ISO_DATE.test(t)) {
    const ms = Date.parse(t);
    if (Number.isNaN(ms)) throw new IsolaError('USAGE', `invalid since '${text}' (expected a time like 2026-01-31T12:00:00Z, or a duration like 10m)`);
    return ms;
  }
  return now - parseDuration(t, 'since');
}

export function parseTail(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new IsolaError('USAGE', `invalid tail '${text}' (expected a number of lines, e.g. 100)`);
  return Number(t);
}
