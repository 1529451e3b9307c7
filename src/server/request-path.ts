/**
 * Splits a request target into a safely decoded path and its query. Each segment is percent-decoded once;
 * a segment that decodes to `.`/`..` or contains `/`, `\` or NUL is refused, so `%2e%2e`, `%2F` and friends
 * can never steer a request to a route other than the one its raw segments name.
 */
import { IsolaError } from '../errors.js';

export interface RequestPath {
  /** Decoded path, segments joined with '/'. */
  path: string;
  /** Decoded segments (path minus the leading '/'), for the router. */
  segments: string[];
  /** The path exactly as it arrived, without the query. */
  rawPath: string;
  /** Query without '?'. */
  query: string;
}

const badPath = (why: string): IsolaError => new IsolaError('USAGE', `bad request path: ${why}`);

export function parseRequestTarget(target: string): RequestPath {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  if (!rawPath.startsWith('/')) throw badPath('must start with /');
  const segments = rawPath.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i]!;
    let seg = raw;
    if (raw.includes('%')) {
      try {
        seg = decodeURIComponent(raw);
      } catch {
        throw badPath('invalid percent-encoding');
      }
    }
    if (seg === '.' || seg === '..') throw badPath('dot segment');
    if (seg !== raw && (seg.includes('/') || seg.includes('\\'))) throw badPath('encoded slash');
    if (seg.includes('\0')) throw badPath('NUL');
    segments[i] = seg;
  }
  return { path: '/' + segments.join('/'), segments, rawPath, query };
}
