/**
 * The wasi:http executor: the guest is a component exporting wasi:http/incoming-handler; each request is one
 * `http` invocation in the version's pool (a fresh instance). Bodies stream both ways over the cell's
 * capability channel (capabilities/wasi-http/channel.ts): the guest pulls the request body from the client's
 * connection as it reads, and its response is answered as soon as it sets the head, the body following as it
 * is written; every FLOW_WINDOW bytes the guest waits until the client has taken most of it. `completion`
 * settles when the guest's work ends: with its trailers, or its failure (which cuts a response already begun).
 */
import { IsolaError } from '../../errors.js';
import { CONNECTION_FIELDS, FLOW_WINDOW, HttpOp, Reply, parseHead, type HeadOrError } from '../../capabilities/wasi-http/index.js';
import type { HostCalls } from '../../cells/types.js';
import type { ExecutionContext, Executor, FunctionSpec, HttpRequestDescriptor, HttpResponseDescriptor } from '../types.js';
import { grantPreopens } from '../grant-policy.js';
import { formatSize } from '../../engine/units.js';
import { BodyQueue } from './body-queue.js';
import { RequestBodySource } from '../../capabilities/wasi-http/host/request-body.js';
import { DEFAULT_OUTBOUND_LIMITS, OutboundBroker } from '../../capabilities/wasi-http/host/outbound.js';
import { outboundCalls } from '../../capabilities/wasi-http/host/outbound-calls.js';
import { reply, Stops } from '../../capabilities/wasi-http/host/replies.js';
import { MAX_CAP_DATA } from '../../capabilities/capability-frames.js';
import { parseAllowedHost, type AllowedHost } from '../../capabilities/wasi-http/allowed-hosts.js';
import { kvBroker } from './kv-host.js';

const EMPTY = new Uint8Array(0);

/** The invocation's args: method, path with query (as it arrived), scheme, authority, then header pairs. */
function requestArgs(req: HttpRequestDescriptor): string[] {
  const path = req.rawPath ?? req.path;
  const args = [req.method, req.query === '' ? path : `${path}?${req.query}`, req.scheme, req.headers.host ?? `${req.serverName}:${req.serverPort}`];
  for (const [name, value] of Object.entries(req.headers)) if (!CONNECTION_FIELDS.has(name)) args.push(name, value); // the hop to isola, not the guest's request
  return args;
}

const allowedCache = new WeakMap<object, AllowedHost[]>();
/** The spec's allowed outbound hosts, parsed (checked when the spec was made: an entry that fails here is dropped). */
function allowedHostsOf(spec: FunctionSpec): AllowedHost[] {
  let list = allowedCache.get(spec);
  if (list === undefined) {
    list = (spec.allowedOutboundHosts ?? []).flatMap((t) => {
      try {
        return [parseAllowedHost(t)];
      } catch {
        return [];
      }
    });
    allowedCache.set(spec, list);
  }
  return list;
}

export class WasiHttpExecutor implements Executor {
  readonly kind = 'wasi-http' as const;

  async handle(req: HttpRequestDescriptor, ctx: ExecutionContext): Promise<HttpResponseDescriptor> {
    const { spec } = ctx;
    const { limits } = spec;
    if (req.body.length > limits.maxBodyBytes) {
      throw new IsolaError('TOO_LARGE', `request body larger than max-body (${formatSize(limits.maxBodyBytes)})`);
    }
    const body = new BodyQueue();
    const source = new RequestBodySource(req.bodyStream, req.body, limits.maxBodyBytes);
    const stops = new Stops(ctx.signal, limits.timeoutMs);
    let gotHead!: (h: HeadOrError) => void;
    const head = new Promise<HeadOrError>((resolve) => {
      gotHead = resolve;
    });
    let headSeen = false;
    const broker = new OutboundBroker(allowedHostsOf(spec), {
      ...DEFAULT_OUTBOUND_LIMITS,
      maxRequests: limits.maxOutboundRequests ?? DEFAULT_OUTBOUND_LIMITS.maxRequests,
      maxResponseBytes: limits.maxOutboundResponseBytes ?? DEFAULT_OUTBOUND_LIMITS.maxResponseBytes,
    }, (r) => ctx.outbound(r));
    const outbound = outboundCalls(broker, stops);
    const kv = kvBroker(ctx, stops);
    const host: HostCalls = {
      send(op, data) {
        if (outbound.send(op, data) || kv.send(op, data)) return;
        if (op === HttpOp.HEAD) {
          if (headSeen) throw new Error('a second response head');
          headSeen = true;
          gotHead(parseHead(data));
        } else if (op === HttpOp.BODY) {
          if (!headSeen) throw new Error('response body before its head');
          body.push(data);
        } else {
          throw new Error(`unknown wasi:http send ${op}`);
        }
      },
      call(op, data) {
        if (op === HttpOp.READ) {
          if (data.length !== 4) return Promise.reject(new Error('a malformed READ'));
          const max = Math.min(new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true), MAX_CAP_DATA);
          return stops.race(source.read(max).then((r) => ('data' in r ? reply(Reply.OK, r.data) : 'end' in r ? reply(Reply.END) : reply(Reply.FAILED, Buffer.from(r.failed)))));
        }
        if (op === HttpOp.FLOW) return stops.race(body.below(FLOW_WINDOW / 2).then(() => reply(Reply.OK)));
        if (op === HttpOp.DONE) return Promise.resolve(reply(Reply.OK)); // every send before it has been handled
        return outbound.call(op, data) ?? kv.call(op, data) ?? Promise.reject(new Error(`unknown wasi:http call ${op}`));
      },
    };
    const run = ctx.run({
      kind: 'http',
      args: requestArgs(req),
      env: spec.env,
      preopens: grantPreopens(spec),
      maxOutputBytes: limits.maxResponseBytes,
      limits: { fuel: limits.fuel, timeoutMs: limits.timeoutMs },
      host,
      kvStores: spec.keyValueStores ?? [],
    }, ctx.signal);
    const completion = run.then((res) => {
      const trailers = trailersOf(res.values?.[0]);
      body.end();
      return trailers;
    }).catch((e: unknown) => {
      body.fail(e);
      throw e;
    }).finally(() => {
      stops.end();
      broker.close();
    });
    // The head, or the invocation's end without one (its failure, or a handler that set no response).
    const first = await Promise.race([head, completion.then(() => null)]);
    if (first === null || 'error' in first) {
      await completion; // a failure before any head is the request's failure
      if (first === null) throw new IsolaError('BAD_RESPONSE', 'the handler returned without setting a response');
      throw new IsolaError('BAD_RESPONSE', `the handler answered with error ${first.error}`);
    }
    completion.catch(() => {}); // observed by the orchestrator; never an unhandled rejection here
    return { status: first.status, headers: first.headers, body: EMPTY, stream: body, completion };
  }
}

/** The trailers the cell sent in the result's first value (a JSON array of [name, value] pairs, or empty), checked. */
function trailersOf(value: string | undefined): Array<[string, string]> | null {
  if (value === undefined || value === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: malformed trailers');
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) {
    throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: malformed trailers');
  }
  return parsed as Array<[string, string]>;
}
