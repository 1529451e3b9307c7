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
  const env: Record<string, string> = { ...spec.env };
  for (const [name, value] of Object.entries(req.headers)) {
    if (!withheld(name)) env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  }
  for (const [name, value] of Object.entries(req.params)) env[paramVar(name)] = value;
  const rawPath = req.rawPath ?? req.path;
  const host = req.headers.host ?? `${req.serverName}:${req.serverPort}`;
  serverSoftware ??= `isola/${isolaVersion()}`;
  Object.assign(env, {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: serverSoftware,
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: req.serverName,
    SERVER_PORT: String(req.serverPort),
    REQUEST_METHOD: req.method,
    SCRIPT_NAME: scriptName(req.path, req.pathInfo),
    PATH_INFO: req.pathInfo,
    PATH_TRANSLATED: req.pathInfo,
    QUERY_STRING: req.query,
    REMOTE_ADDR: req.remoteAddr,
    REMOTE_HOST: req.remoteAddr,
    CONTENT_LENGTH: String(req.body.length),
    X_FULL_URL: `${req.scheme}://${host}${rawPath}${req.query ? `?${req.query}` : ''}`,
    X_MATCHED_ROUTE: req.route,
    X_RAW_PATH_INFO: remainderAfterRoute(req.route, rawPath),
  });
  if (req.headers['content-type'] !== undefined) env.CONTENT_TYPE = req.headers['content-type'];
  if (req.scheme === 'https') env.HTTPS = 'on';
  return env;
}
