/**
 * Route syntax (Spin's): `/exact/path`, `:name` segments, a trailing `/...` wildcard. The server
 * matches requests; this only says whether a route is well formed, so a manifest and a deploy refuse
 * the same things.
 */

/** Prefixes the server answers itself: no function route may start with them. */
export const RESERVED_PREFIXES = ['/admin', '/metrics', '/.well-known/isola'];

const LITERAL = /^[A-Za-z0-9._~!$&'()*+,;=@-]+$/;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `route` is not a valid route ("expected …"), or null when it is. */
export function checkRoute(route: string): string | null {
  if (!route.startsWith('/')) return 'expected a route starting with "/"';
  if (route.length > 1024) return 'expected a route of at most 1024 characters';
  for (const p of RESERVED_PREFIXES) {
    if (route === p || route.startsWith(`${p}/`)) return `expected a route outside the reserved ${p}`;
  }
  if (route === '/') return null;
  const segments = route.slice(1).split('/');
  const params = new Set<string>();
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '...') {
      if (i !== segments.length - 1) return 'expected "/..." only at the end of the route';
      continue;
    }
    if (s.startsWith(':')) {
      if (!PARAM.test(s)) return 'expected ":name" segments with a name of letters, digits and "_"';
      if (params.has(s)) return `expected distinct parameter names (${s} twice)`;
      params.add(s);
      continue;
    }
    if (s === '') return 'expected no empty segments ("//" or a trailing "/")';
    if (s === '.' || s === '..') return 'expected no "." or ".." segments';
    if (!LITERAL.test(s)) return 'expected segments of letters, digits and -._~!$&\'()*+,;=@ (no "%", spaces or "\\")';
  }
  return null;
}
