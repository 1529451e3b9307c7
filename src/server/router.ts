/**
 * Spin-style route table: exact `/a/b`, `:name` segments, trailing `/...` wildcard. The most specific route
 * wins: segments are compared left to right (literal > `:param` > wildcard), then the longer route wins.
 */
import { IsolaError } from '../errors.js';
import { checkRoute } from '../orchestrator/routes.js';

type Part = { kind: 'literal'; text: string } | { kind: 'param'; name: string };

interface CompiledRoute {
  route: string;
  name: string;
  parts: Part[];
  wildcard: boolean;
}

export interface RouteMatch {
  name: string;
  route: string;
  params: Record<string, string>;
  /** For `/...` routes, the rest of the path after the prefix ('' or starting with '/'); '' otherwise. */
  pathInfo: string;
}

/** Parses a route; its syntax and the reserved prefixes are checked by the orchestrator's checkRoute (one rule for manifest, deploy and router). */
export function compileRoute(route: string, name: string): CompiledRoute {
  const problem = typeof route === 'string' ? checkRoute(route) : 'expected a string';
  if (problem) throw new IsolaError('MANIFEST', `route ${JSON.stringify(route)}: ${problem}`, { key: 'route' });
  const segs = route === '/' ? [] : route.slice(1).split('/');
  const wildcard = segs[segs.length - 1] === '...';
  if (wildcard) segs.pop();
  const parts: Part[] = segs.map((seg) => (seg.startsWith(':') ? { kind: 'param', name: seg.slice(1) } : { kind: 'literal', text: seg }));
  return { route, name, parts, wildcard };
}

/** Negative when a is more specific than b. */
function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.min(a.parts.length, b.parts.length);
  for (let i = 0; i < n; i++) {
    const ka = a.parts[i]!.kind;
    const kb = b.parts[i]!.kind;
    if (ka !== kb) return ka === 'literal' ? -1 : 1;
  }
  if (a.parts.length !== b.parts.length) {
    // Same kinds up to the shorter one's end: the longer route (more segments pinned down) wins.
    return b.parts.length - a.parts.length;
  }
  if (a.wildcard !== b.wildcard) return a.wildcard ? 1 : -1;
  return 0;
}

export class Router {
  private readonly table: CompiledRoute[];

  /** Routes come from the orchestrator, which already refused bad, reserved and duplicate ones (CONFLICT). */
  constructor(routes: Array<{ route: string; name: string }>) {
    this.table = routes.map((r) => compileRoute(r.route, r.name)).sort(compareSpecificity);
  }

  /** Segments are the decoded path segments (path without its leading '/', split on '/'). */
  match(segments: string[]): RouteMatch | null {
    const len = segments.length === 1 && segments[0] === '' ? 0 : segments.length;
    for (const r of this.table) {
      if (r.wildcard ? len < r.parts.length : len !== r.parts.length) continue;
      let params: Record<string, string> | null = null;
      let ok = true;
      for (let i = 0; i < r.parts.length; i++) {
        const p = r.parts[i]!;
        const s = segments[i]!;
        if (p.kind === 'literal') {
          if (p.text !== s) { ok = false; break; }
        } else {
          if (s === '') { ok = false; break; }
          (params ??= {})[p.name] = s;
        }
      }
      if (!ok) continue;
      const pathInfo = r.wildcard && len > r.parts.length ? '/' + segments.slice(r.parts.length).join('/') : '';
      return { name: r.name, route: r.route, params: params ?? {}, pathInfo };
    }
    return null;
  }
}
