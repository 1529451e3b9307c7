/**
 * The wasi:http executor: the guest is a component exporting wasi:http/incoming-handler; each request is one
 * `http` invocation in the version's pool (a fresh instance). Bodies stream both ways over the cell's
 * capability channel (capabilities/wasi-http/channel.ts): the guest pulls the request body from the client's
 * connection as it reads, and its response is answered as soon as it sets the head, the body following as it
 * is written; every FLOW_WINDOW bytes the guest waits until the client has taken most of it. `completion`
 * settles when the guest's work ends: with its trailers, or its failure (which cuts a response already begun).
 */
import { IsolaError } from '../../errors.js';
import { formatDuration } from '../../engine/units.js';
import { FLOW_WINDOW, HttpOp, Reply, parseHead, type HeadOrError } from '../../capabilities/wasi-http/index.js';
import type { HostCalls } from '../../cells/types.js';
import type { ExecutionContext, Executor, HttpRequestDescriptor, HttpResponseDescriptor } from '../types.js';
import { grantPreopens } from '../grant-policy.js';
import { sizeText } from './size-text.js';
import { BodyQueue } from './body-queue.js';
import { RequestBodySource } from './request-body.js';

/** Connection-level request headers: they describe the hop to isola, not the request the guest answers. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'http2-settings']);
const EMPTY = new Uint8Array(0);

/** The invocation's args: method, path with query (as it arrived), scheme, authority, then header pairs. */
function requestArgs(req: HttpRequestDescriptor): string[] {
  const path = req.rawPath ?? req.path;
  const args = [req.method, req.query === '' ? path : `${path}?${req.query}`, req.scheme, req.headers.host ?? `${req.serverName}:${req.serverPort}`];
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) args.push(name, value);
  return args;
}

const reply = (kind: number, data: Uint8Array = EMPTY): Uint8Array => {
  const out = new Uint8Array(1 + data.length);
  out[0] = kind;
  out.set(data, 1);
  return out;
};
const stopReply = (e: IsolaError): Uint8Array => reply(Reply.STOP, Buffer.from(JSON.stringify({ code: e.code, message: e.message })));

/**
 * Why the guest must stop waiting: its caller went away, or its time is up. A guest blocked in a call cannot
 * see its own deadline (it is not running), so the host answers the call with a stop at that moment.
 */
class Stops {
  private readonly timer: NodeJS.Timeout | undefined;
  private reason: IsolaError | null = null;
  private readonly waiters = new Set<(e: IsolaError) => void>();
  private readonly onAbort = (): void => this.stop(new IsolaError('CANCELLED', 'the client went away'));

  constructor(private readonly signal: AbortSignal, timeoutMs: number) {
    this.timer = setTimeout(() => this.stop(new IsolaError('TIMEOUT', `timed out after ${formatDuration(timeoutMs)}`, { timeoutMs })), timeoutMs);
    this.timer.unref();
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  private stop(e: IsolaError): void {
    if (this.reason !== null) return;
    this.reason = e;
    for (const w of this.waiters) w(e);
    this.waiters.clear();
  }

  /** `work`'s reply, or a stop reply if one comes first. */
  async race(work: Promise<Uint8Array>): Promise<Uint8Array> {
    if (this.reason !== null) return stopReply(this.reason);
    let waiter!: (e: IsolaError) => void;
    const stopped = new Promise<Uint8Array>((resolve) => {
      waiter = (e) => resolve(stopReply(e));
      this.waiters.add(waiter);
    });
    try {
      return await Promise.race([work, stopped]);
    } finally {
      this.waiters.delete(waiter);
    }
  }

  end(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

export class WasiHttpExecutor implements Executor {
  readonly kind = 'wasi-http' as const;

  async handle(req: HttpRequestDescriptor, ctx: ExecutionContext): Promise<HttpResponseDescriptor> {
    const { spec } = ctx;
    const { limits } = spec;
    if (req.body.length > limits.maxBodyBytes) {
      throw new IsolaError('TOO_LARGE', `request body larger than max-body (${sizeText(limits.maxBodyBytes)})`);
    }
    const body = new BodyQueue();
    const source = new RequestBodySource(req.bodyStream, req.body, limits.maxBodyBytes);
    const stops = new Stops(ctx.signal, limits.timeoutMs);
    let gotHead!: (h: HeadOrError) => void;
    const head = new Promise<HeadOrError>((resolve) => {
      gotHead = resolve;
    });
    let headSeen = false;
    const host: HostCalls = {
      send(op, data) {
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
          const max = Math.min(new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true), FLOW_WINDOW);
          return stops.race(source.read(max).then((r) => ('data' in r ? reply(Reply.OK, r.data) : 'end' in r ? reply(Reply.END) : reply(Reply.FAILED, Buffer.from(r.failed)))));
        }
        if (op === HttpOp.FLOW) return stops.race(body.below(FLOW_WINDOW / 2).then(() => reply(Reply.OK)));
        if (op === HttpOp.DONE) return Promise.resolve(reply(Reply.OK)); // every send before it has been handled
        return Promise.reject(new Error(`unknown wasi:http call ${op}`));
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
    }, ctx.signal);
    const completion = run.then((res) => {
      const trailers = trailersOf(res.values?.[0]);
      body.end();
      return trailers;
    }).catch((e: unknown) => {
      body.fail(e);
      throw e;
    }).finally(() => stops.end());
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
