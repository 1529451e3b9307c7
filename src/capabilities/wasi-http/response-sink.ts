/**
 * Where a wasi:http guest's response goes: the head (status and headers, or the error-code the guest answered
 * with), then the body bytes as the guest writes them. From a cell they cross the capability channel
 * (channel.ts); the head travels as JSON. Trailers leave with the invocation's result.
 */
import { IsolaError } from '../../errors.js';

export interface ResponseHead {
  status: number;
  headers: Array<[string, string]>;
}

/** What the guest answered: a response, or an error-code instead of one. */
export type HeadOrError = ResponseHead | { error: string };

export interface ResponseSink {
  head(head: HeadOrError): void;
  /** Body bytes (guest memory: copy what you keep). */
  body(bytes: Uint8Array): void;
}

/** A head as the host receives it (HEAD's JSON), checked: a cell is untrusted. */
export function parseHead(bytes: Uint8Array): HeadOrError {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw badHead('not JSON');
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) throw badHead('not an object');
  if (typeof o.error === 'string') return { error: o.error.slice(0, 500) };
  if (!Number.isInteger(o.status) || !Array.isArray(o.headers)) throw badHead('no status or headers');
  const headers = (o.headers as unknown[]).map((p) => {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') throw badHead('a header is not a pair of strings');
    return [p[0], p[1]] as [string, string];
  });
  return { status: o.status as number, headers };
}

function badHead(why: string): IsolaError {
  return new IsolaError('CELL_PROTOCOL', `cell-protocol-error: a malformed response head (${why})`);
}
