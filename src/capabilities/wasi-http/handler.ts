/**
 * Serving one request with a component that exports wasi:http/incoming-handler (0.2.x): a fresh instance,
 * WASI 0.2 plus wasi:http's imports, `handle(request, response-out)` called once. The response reaches the
 * ResponseSink as the guest writes it; the guest's own stdout and stderr are the options' (its log).
 */
import { IsolaError } from '../../errors.js';
import type { CompiledComponent, ComponentImports, ComponentInstance } from '../../engine/component/compiled-component.js';
import { missingImports } from '../../engine/component/glue.js';
import type { Limits } from '../../engine/limits.js';
import type { WasiOptions } from '../wasi-p1/wasi.js';
import { WasiP2 } from '../wasi-p2/wasi.js';
import { bufferedBody, httpErrorCode, httpTypes, ResponseState, type HttpTypes, type RequestBody, type RequestParts } from './types.js';
import { outgoingTypes } from './outgoing.js';
import type { ResponseSink } from './response-sink.js';
import type { CapabilityChannel } from './channel.js';
import { KvClient } from '../keyvalue/guest/client.js';
import { componentKeyValueImports } from '../keyvalue/guest/component-imports.js';

const HANDLER = /^wasi:http\/incoming-handler@0\.2\.\d+$/;

/** The name under which the component exports wasi:http/incoming-handler 0.2.x, or null. */
export function incomingHandlerExport(c: Pick<CompiledComponent, 'exports'>): string | null {
  return c.exports.find(([name, kind]) => kind === 'instance' && HANDLER.test(name))?.[0] ?? null;
}

/**
 * Path and query as they arrived (not decoded); header values latin-1 text, as node:http gives them, repeats
 * kept; the body whole, or a RequestBody read as the guest asks.
 */
export type IncomingHttpRequest = Omit<RequestParts, 'body'> & { body: Uint8Array | RequestBody };

export interface HandledRequest {
  /** The trailers the guest finished its body with. */
  trailers: Array<[string, string]> | null;
}

/**
 * Everything a handler is given: WASI 0.2, wasi:http (types, and outgoing requests through `channel`, or refused
 * without one) and the key-value interfaces (wasi:keyvalue, Spin's; their stores through `channel`).
 */
function handlerImports(wasi: WasiP2, http: HttpTypes, channel: CapabilityChannel | null, kv = new KvClient(channel)): ComponentImports {
  const out = outgoingTypes(wasi.clocks, http, channel);
  return {
    ...wasi.imports,
    ...componentKeyValueImports(kv),
    'wasi:http/types': { ...http.classes, ...out.classes, httpErrorCode },
    'wasi:http/outgoing-handler': out.handler,
  };
}

/** What the component imports that a handler is not given (`interface#name`), checked at deploy. */
export function missingHandlerImports(c: Pick<CompiledComponent, 'wanted'>): string[] {
  const wasi = new WasiP2({});
  try {
    return missingImports(c.wanted as Map<string, string[]>, handlerImports(wasi, httpTypes(wasi.clocks), null));
  } finally {
    wasi.close();
  }
}

/**
 * Runs the handler; throws the guest's failure (a trap, fuel, timeout), or BAD_RESPONSE when it set no response.
 * `channel`: where its outgoing requests go (a cell's capability channel); none: they are refused. `kv`: its stores'
 * client (default: over `channel`, opens asking the host).
 */
export function serveHttpRequest(compiled: CompiledComponent, req: IncomingHttpRequest, options: WasiOptions, sink: ResponseSink,
  maxBodyBytes: number, limits: Limits = {}, observe?: (i: ComponentInstance) => void, channel: CapabilityChannel | null = null,
  kv?: KvClient): HandledRequest {
  const name = incomingHandlerExport(compiled);
  if (name === null) throw new IsolaError('USAGE', 'the component does not export wasi:http/incoming-handler@0.2.x');
  const wasi = new WasiP2(options);
  wasi.setTimeout(limits.timeoutMs);
  const http = httpTypes(wasi.clocks);
  const state = new ResponseState(sink, maxBodyBytes);
  try {
    const instance = compiled.instantiate(handlerImports(wasi, http, channel, kv), limits);
    observe?.(instance);
    const body = req.body instanceof Uint8Array ? bufferedBody(req.body) : req.body;
    const { request, outparam } = http.begin({ ...req, body }, state);
    (instance.exports[name] as { handle: (r: unknown, o: unknown) => void }).handle(request, outparam);
    if (!http.outparamSet) throw new IsolaError('BAD_RESPONSE', 'the handler returned without setting a response');
    return { trailers: state.trailers };
  } finally {
    wasi.close();
  }
}
