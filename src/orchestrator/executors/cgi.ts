/**
 * The CGI executor (WAGI): the guest is a WASI preview 1 command; the request reaches it as CGI
 * variables + the body on stdin, argv = [function name]; its stdout is parsed as a CGI response.
 * The wasi:http executor (wasi-http.ts) implements the same Executor interface beside this one.
 */
import { IsolaError } from '../../errors.js';
import type { ExecutionContext, Executor, HttpRequestDescriptor, HttpResponseDescriptor } from '../types.js';
import { cgiEnvironment } from './cgi-env.js';
import { parseCgiOutput } from './cgi-response.js';
import { grantPreopens } from '../grant-policy.js';
import { formatSize } from '../../engine/units.js';
import { wholeBody } from '../../capabilities/wasi-http/host/request-body.js';
import { Stops } from '../../capabilities/wasi-http/host/replies.js';
import { kvBroker } from './kv-host.js';
import { kvOnlyHost } from '../../capabilities/keyvalue/host/broker.js';

export class CgiExecutor implements Executor {
  readonly kind = 'cgi' as const;

  async handle(req: HttpRequestDescriptor, ctx: ExecutionContext): Promise<HttpResponseDescriptor> {
    const { spec } = ctx;
    const { limits } = spec;
    // A request the server left unread (the version live when it arrived streams its body) is read whole here.
    const body = await wholeBody(req.bodyStream, req.body, limits.maxBodyBytes);
    if (body.length > limits.maxBodyBytes) {
      throw new IsolaError('TOO_LARGE', `request body larger than max-body (${formatSize(limits.maxBodyBytes)})`);
    }
    // Key-value calls cross the cell's capability channel (an inline cell has none: its guest's calls are unavailable).
    const stops = spec.isolation === 'inline' ? null : new Stops(ctx.signal, limits.timeoutMs);
    let result;
    try {
      result = await ctx.run({
        kind: 'wasi',
        args: [spec.name],
        input: body,
        env: cgiEnvironment(body === req.body ? req : { ...req, body }, spec),
        preopens: grantPreopens(spec),
        maxOutputBytes: limits.maxResponseBytes,
        limits: { fuel: limits.fuel, timeoutMs: limits.timeoutMs },
        ...(stops === null ? {} : { host: kvOnlyHost(kvBroker(ctx, stops)), kvStores: spec.keyValueStores ?? [] }),
      }, ctx.signal);
    } finally {
      stops?.end();
    }
    if (result.outputTruncated) {
      throw new IsolaError('BAD_RESPONSE', `response larger than max-response (${formatSize(limits.maxResponseBytes)})`, { truncated: true });
    }
    if (result.exitCode !== undefined && result.exitCode !== 0) {
      throw new IsolaError('BAD_RESPONSE', `guest exited with status ${result.exitCode}`, { exitCode: result.exitCode });
    }
    return parseCgiOutput(result.output ?? new Uint8Array(0));
  }
}
