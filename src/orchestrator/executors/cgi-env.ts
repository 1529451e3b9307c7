/**
 * The CGI environment of one request (RFC 3875 §4.1, plus WAGI's X_* extensions). The function's
 * granted env comes first; CGI names win over it. Route parameters are X_PARAM_<NAME> (upper-cased).
 *
 * Headers become HTTP_<NAME> except:
 *   - `authorization` and `proxy-authorization`: credentials meant for the gateway, not the guest
 *     (RFC 3875 §4.1.18 lets a server withhold them); a function that needs a token gets it via `env`.
 *   - `proxy` and `proxy-*`: HTTP_PROXY would become a CGI program's proxy setting (httpoxy).
 *   - `content-length`/`content-type`: they are CONTENT_LENGTH/CONTENT_TYPE.
 *   - names with anything but letters, digits and `-` (an `_` would let `x_a` pose as `x-a`).
 */
import { isolaVersion } from '../../engine/version.js';
import type { FunctionSpec, HttpRequestDescriptor } from '../types.js';

const HEADER_NAME = /^[a-z0-9-]+$/;
const WITHHELD = new Set(['authorization', 'proxy-authorization', 'proxy', 'content-length', 'content-type']);

function withheld(name: string): boolean {
  return WITHHELD.has(name) || name.startsWith('proxy-') || !HEADER_NAME.test(name);
}

/**
 * Header name → its CGI variable name (`HTTP_…`), or null when withheld. Every request asks for the
 * same dozen names, so they are worked out once. The cache is bounded: names outside the common set
 * are cached only while it has room (a client sending random names fills it once, then they are
 * simply computed each time), and the common set is placed first so it is always there.
 */
const HTTP_NAME_CACHE_MAX = 512;
/** Longer names are never cached (with the count, this bounds the cache's memory to ~100 KiB). */
const HTTP_NAME_CACHE_MAX_LENGTH = 64;
const httpNames = new Map<string, string | null>();

function computeHttpName(name: string): string | null {
  return withheld(name) ? null : `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
}

for (const name of [
  'host', 'user-agent', 'accept', 'accept-language', 'accept-encoding', 'accept-charset', 'connection',
  'keep-alive', 'upgrade-insecure-requests', 'cache-control', 'pragma', 'cookie', 'referer', 'origin', 'dnt',
  'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'expect', 'te',
  'upgrade', 'via', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
  'x-real-ip', 'x-request-id', 'x-requested-with', 'transfer-encoding', 'content-encoding', 'content-language',
  'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-user', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'priority', 'traceparent', 'tracestate', 'x-api-key',
  'authorization', 'proxy-authorization', 'proxy', 'content-length', 'content-type',
]) httpNames.set(name, computeHttpName(name));

/** How many header names are cached (for tests: it never exceeds HTTP_NAME_CACHE_MAX). */
export function headerNameCacheSize(): number {
  return httpNames.size;
}
export { HTTP_NAME_CACHE_MAX };

function httpName(name: string): string | null {
  let v = httpNames.get(name);
  if (v === undefined) {
    v = computeHttpName(name);
    if (httpNames.size < HTTP_NAME_CACHE_MAX && name.length <= HTTP_NAME_CACHE_MAX_LENGTH) httpNames.set(name, v);
  }
  return v;
}

/** The path after a `/...` route's prefix, taken from `path` (so it works on the raw path too). */
export function remainderAfterRoute(route: string, path: string): string {
  if (!route.endsWith('/...')) return '';
  const prefixSegments = route === '/...' ? 0 : route.slice(1, -4).split('/').length;
  const segments = path.split('/').slice(1 + prefixSegments);
  return segments.length === 0 ? '' : `/${segments.join('/')}`;
}

/** SCRIPT_NAME: the part of the path the route matched before PATH_INFO. */
function scriptName(path: string, pathInfo: string): string {
  return pathInfo && path.endsWith(pathInfo) ? path.slice(0, path.length - pathInfo.length) : path;
}

function paramVar(name: string): string {
  return `X_PARAM_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

let serverSoftware: string | undefined;

export function cgiEnvironment(req: HttpRequestDescriptor, spec: FunctionSpec): Record<string, string> {
  // One request after another builds this: plain stores into one object, in the order the variables
  // always had (granted env, HTTP_*, X_PARAM_*, then the CGI names, which win), no spread or entries.
  const env: Record<string, string> = {};
  const granted = spec.env;
  for (const name in granted) {
    // A plain store of `__proto__` would set the prototype instead (the spread this replaced defined it).
    if (name === '__proto__') Object.defineProperty(env, name, { value: granted[name], enumerable: true, writable: true, configurable: true });
    else env[name] = granted[name]!;
  }
  const headers = req.headers;
  for (const name in headers) {
    const v = httpName(name);
    if (v !== null) env[v] = headers[name]!;
  }
  const params = req.params;
  for (const name in params) env[paramVar(name)] = params[name]!;
  const rawPath = req.rawPath ?? req.path;
  const host = headers.host ?? `${req.serverName}:${req.serverPort}`;
  serverSoftware ??= `isola/${isolaVersion()}`;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.SERVER_SOFTWARE = serverSoftware;
  env.SERVER_PROTOCOL = 'HTTP/1.1';
  env.SERVER_NAME = req.serverName;
  env.SERVER_PORT = String(req.serverPort);
  env.REQUEST_METHOD = req.method;
  env.SCRIPT_NAME = scriptName(req.path, req.pathInfo);
  env.PATH_INFO = req.pathInfo;
  env.PATH_TRANSLATED = req.pathInfo;
  env.QUERY_STRING = req.query;
  env.REMOTE_ADDR = req.remoteAddr;
  env.REMOTE_HOST = req.remoteAddr;
  env.CONTENT_LENGTH = String(req.body.length);
  env.X_FULL_URL = `${req.scheme}://${host}${rawPath}${req.query ? `?${req.query}` : ''}`;
  env.X_MATCHED_ROUTE = req.route;
  env.X_RAW_PATH_INFO = remainderAfterRoute(req.route, rawPath);
  const contentType = headers['content-type'];
  if (contentType !== undefined) env.CONTENT_TYPE = contentType;
  if (req.scheme === 'https') env.HTTPS = 'on';
  return env;
}
