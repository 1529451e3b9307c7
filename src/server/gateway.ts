/**
 * One function request: body within the function's limit, the HttpRequestDescriptor, orchestrator.handle(),
 * and the guest's response written back (hop-by-hop and malformed guest headers dropped).
 */
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { HttpRequestDescriptor, HttpResponseDescriptor, OrchestratorApi } from '../orchestrator/types.js';
import { isIsolaError } from '../errors.js';
import { httpStatusFor, publicReason } from './error-status.js';
import { readBody, tooLarge } from './read-body.js';
import { endWithBody, sendText } from './respond.js';
import { writeStreamed } from './write-streamed.js';
import type { RequestPath } from './request-path.js';
import type { RouteMatch } from './router.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

/** Headers a guest may not set: they belong to the connection, or the server computes them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-connection', 'te', 'trailer', 'x-request-id']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface GatewayContext {
  orchestrator: OrchestratorApi;
  logger: Logger;
  serverName: string;
  serverPort: number;
  /** Filled by onInvocation (keyed by request id) so the request metric carries the version that ran. */
  versionOf: Map<string, string>;
}

/** Lower-case names, repeated headers joined with ', ' (rawHeaders keeps every one; req.headers drops some repeats). */
function collectHeaders(raw: string[], requestId: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const prev = out[name];
    out[name] = prev === undefined ? raw[i + 1]! : `${prev}, ${raw[i + 1]!}`;
  }
  out['x-request-id'] = requestId;
  return out;
}

/** The live version's body limit, and whether its guest reads the body as a stream (wasi:http) rather than whole (CGI). */
function bodyPolicyOf(orch: OrchestratorApi, name: string): { limit: number; stream: boolean } {
  const f = orch.get(name);
  const active = f?.versions.find((v) => v.id === f.active);
  return { limit: active?.spec.limits.maxBodyBytes ?? DEFAULT_MAX_BODY, stream: active?.spec.executor === 'wasi-http' };
}

const NO_BODY = new Uint8Array(0);

function guestHeaders(out: HttpResponseDescriptor, log: Logger, requestId: string): string[] {
  const headers: string[] = [];
  for (const [name, value] of out.headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      log.debug({ reqId: requestId, header: name }, 'dropped guest response header');
      continue;
    }
    headers.push(name, value);
  }
  return headers;
}

/** Writes a whole response; a streamed one (wasi:http) is written as it comes, and the promise settles when it has ended. */
function writeGuestResponse(res: ServerResponse, out: HttpResponseDescriptor, log: Logger, requestId: string): Promise<void> | void {
  const headers = guestHeaders(out, log, requestId);
  const status = Number.isInteger(out.status) && out.status >= 200 && out.status <= 999 ? out.status : 500;
  // RFC 9110 §6.4.1, §8.6: a 204 or 304 has no body and no content-length (a length there would make the
  // next response on the connection be read as this one's body); a HEAD answer carries the length a GET
  // would have (the guest's body, which is not sent), or none when the guest wrote no body.
  const bodiless = status === 204 || status === 304;
  const head = res.req.method === 'HEAD';
  if (out.stream !== undefined) return writeStreamed(res, status, headers, out, bodiless || head, (n, v) => TOKEN.test(n) && FIELD_VALUE.test(v) && !HOP_BY_HOP.has(n.toLowerCase()));
  if (!bodiless && !(head && out.body.byteLength === 0)) headers.push('content-length', String(out.body.byteLength));
  res.writeHead(status, headers);
  if (bodiless || head) res.end();
  else endWithBody(res, out.body);
}

const CONNECTION_ABORT = Symbol('isola.connectionAbort');

/**
 * The signal that cancels what a connection's requests run: aborted when the connection closes (the client
 * went away, or a timeout destroyed it). One per connection, not per request: an AbortSignal costs a few
 * µs to make, and every layer that listens removes its listener when its part ends, so a finished request
 * leaves nothing on it for the next one on the same keep-alive connection.
 */
function connectionSignal(socket: Socket): AbortSignal {
  const s = socket as Socket & { [CONNECTION_ABORT]?: AbortController };
  const existing = s[CONNECTION_ABORT];
  if (existing !== undefined) return existing.signal;
  const c = new AbortController();
  s[CONNECTION_ABORT] = c;
  setMaxListeners(0, c.signal); // pipelined requests share it
  socket.once('close', () => c.abort());
  return c.signal;
}

/** Returns the version that answered ('' if none ran). */
export async function handleFunctionRequest(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  where: RequestPath,
  match: RouteMatch,
  requestId: string,
): Promise<string> {
  const signal = connectionSignal(req.socket);
  ctx.versionOf.set(requestId, '');
  try {
    const policy = bodyPolicyOf(ctx.orchestrator, match.name);
    // A streaming guest pulls the body from the connection as it reads (an announced length past max-body is
    // refused at once); otherwise it is read whole, within the limit, before the guest starts.
    if (policy.stream && Number(req.headers['content-length'] ?? 0) > policy.limit) throw tooLarge(policy.limit, 'request body');
    const body = policy.stream ? NO_BODY : await readBody(req, policy.limit);
    const descriptor: HttpRequestDescriptor = {
      method: req.method ?? 'GET',
      path: where.path,
      rawPath: where.rawPath,
      query: where.query,
      route: match.route,
      params: match.params,
      pathInfo: match.pathInfo,
      headers: collectHeaders(req.rawHeaders, requestId),
      body,
      ...(policy.stream ? { bodyStream: req } : {}),
      remoteAddr: req.socket.remoteAddress ?? '',
      serverName: ctx.serverName,
      serverPort: ctx.serverPort,
      scheme: 'http',
    };
    const out = await ctx.orchestrator.handle(match.name, descriptor, signal);
    if (!signal.aborted) await writeGuestResponse(res, out, ctx.logger, requestId);
    else out.completion?.catch(() => {});
  } catch (e) {
    const status = httpStatusFor(e, 'request');
    const reason = publicReason(e);
    if (!isIsolaError(e)) ctx.logger.error({ reqId: requestId, err: e }, 'internal error');
    else ctx.logger.warn({ reqId: requestId, function: match.name, code: e.code, status }, e.message);
    const headers: Record<string, string> = { 'x-isola-error': reason };
    if (status === 503) headers['retry-after'] = '1';
    if (!res.destroyed) sendText(res, status, undefined, headers);
  }
  const version = ctx.versionOf.get(requestId) ?? '';
  ctx.versionOf.delete(requestId);
  return version;
}
