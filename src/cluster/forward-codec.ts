/**
 * The bytes of forwarding's messages (the protocol itself is described in forward.ts): one frame layout, and a
 * validator for each JSON part. Everything a peer sends is checked here before anything else reads it; a
 * frame that does not fit is a ForwardProtocolError with a one-line reason.
 */
import { IsolaError } from '../errors.js';
import type { HttpRequestDescriptor } from '../orchestrator/types.js';
import { jsonBytes } from './json.js';
import { NODE_ID } from './subjects.js';

export const PROTOCOL_VERSION = 1;
/** Data chunks a sender may have unacknowledged: what a receiver may have to hold, per request. */
export const WINDOW = 4;
/** kind (1) + seq (4) + JSON length (4). */
export const FRAME_HEADER = 9;

export type Kind =
  | 'Q' // request head (client → invoke subject)
  | 'B' // busy: not taken (server → client)
  | 'K' // ack of data chunk `seq`; K 0 from the server: accepted, send the body
  | 'D' // data chunk `seq` (1, 2, …): request body or response body
  | 'E' // end of a body, `seq` = last data seq + 1
  | 'H' // response head (server → client)
  | 'X' // failure (server → client)
  | 'P' // keepalive (either way)
  | 'C'; // cancel (client → server)
const KINDS = new Set<string>(['Q', 'B', 'K', 'D', 'E', 'H', 'X', 'P', 'C']);

export interface Frame {
  kind: Kind;
  seq: number;
  /** The JSON part (undefined when the frame has none). */
  json: unknown;
  /** The bytes after the JSON, copied out of the connection's buffer. */
  bytes: Uint8Array;
}

export class ForwardProtocolError extends Error {
  override readonly name = 'ForwardProtocolError';
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const NO_BYTES = new Uint8Array(0);

/** JSON as it goes on the wire (encoded once, so its size can be checked before it is framed). */
export { jsonBytes };

/** The head's JSON bytes, or a failure if it can never fit in one message. */
export function headJson(value: unknown, maxPayload: number, what: string): Uint8Array {
  const json = jsonBytes(value);
  if (json.length > maxPayload - FRAME_HEADER) throw new IsolaError('TOO_LARGE', `${what} of ${json.length} bytes is too large to forward (NATS max_payload ${maxPayload})`);
  return json;
}

export function encodeFrame(kind: Kind, seq: number, json: Uint8Array = NO_BYTES, bytes: Uint8Array = NO_BYTES): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + json.length + bytes.length);
  const view = new DataView(out.buffer);
  out[0] = kind.charCodeAt(0);
  view.setUint32(1, seq);
  view.setUint32(5, json.length);
  out.set(json, FRAME_HEADER);
  out.set(bytes, FRAME_HEADER + json.length);
  return out;
}

export function decodeFrame(data: Uint8Array): Frame {
  if (data.length < FRAME_HEADER) throw new ForwardProtocolError(`frame of ${data.length} bytes is shorter than its header`);
  const kind = String.fromCharCode(data[0]!);
  if (!KINDS.has(kind)) throw new ForwardProtocolError(`unknown frame kind 0x${data[0]!.toString(16)}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const seq = view.getUint32(1);
  const jsonLength = view.getUint32(5);
  if (jsonLength > data.length - FRAME_HEADER) throw new ForwardProtocolError(`JSON length ${jsonLength} past the frame's end`);
  let json: unknown;
  if (jsonLength > 0) {
    try {
      json = JSON.parse(decoder.decode(data.subarray(FRAME_HEADER, FRAME_HEADER + jsonLength)));
    } catch {
      throw new ForwardProtocolError(`frame ${kind}: its JSON part does not parse`);
    }
  }
  return { kind: kind as Kind, seq, json, bytes: data.slice(FRAME_HEADER + jsonLength) };
}

// ---- JSON parts ----

/** The request without its body, as it travels. */
export type WireRequest = Omit<HttpRequestDescriptor, 'body' | 'bodyStream'>;

export interface RequestHead {
  v: number;
  /** The forwarding node's id. */
  from: string;
  /** Both sides' silence limit (ms): each sends a keepalive after a third of it without sending. */
  idle: number;
  /** 'whole': a CGI body (Uint8Array), `size` bytes; 'stream': a wasi:http body (Readable), size unknown (-1). */
  body: 'whole' | 'stream';
  size: number;
  /** False: the frame's bytes are the whole body; true: the body follows in D frames once the server accepts (K 0). */
  more: boolean;
  req: WireRequest;
}

export interface ResponseHead {
  status: number;
  headers: Array<[string, string]>;
  /** False: the frame's bytes are the whole body; true: D frames and an E follow. */
  more: boolean;
}

/** End of a request body: `error` when the forwarding node's client failed mid-body. */
export interface BodyEnd { error?: string }
/** End of a response body. */
export interface ResponseEnd { trailers: Array<[string, string]> | null }
/** A failure: an IsolaError's code and message, or code INTERNAL for anything else. */
export interface WireError { code: string; message: string }

const ERROR_CODE = /^[A-Z_]{1,32}$/;
/** Bounds what a peer can make this side keep or log; the frame's size is already capped by max_payload. */
const MAX_MESSAGE = 2000;

const fail = (what: string, why: string): never => { throw new ForwardProtocolError(`${what}: ${why}`); };

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(what, 'not an object');
  return v as Record<string, unknown>;
}

function string(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(what, 'not a string');
  return v as string;
}

function integer(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(what, `not an integer in [${min}, ${max}]`);
  return v as number;
}

function boolean(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') fail(what, 'not a boolean');
  return v as boolean;
}

/** A string → string map, rebuilt without a prototype (a `__proto__` key stays a plain key). */
function stringMap(v: unknown, what: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, value] of Object.entries(object(v, what))) out[k] = string(value, `${what}.${k}`);
  return out;
}

function pairs(v: unknown, what: string): Array<[string, string]> {
  if (!Array.isArray(v)) fail(what, 'not an array');
  return (v as unknown[]).map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) fail(`${what}[${i}]`, 'not a [name, value] pair');
    const [n, value] = p as unknown[];
    return [string(n, `${what}[${i}]`), string(value, `${what}[${i}]`)];
  });
}

export function parseRequestHead(json: unknown): RequestHead {
  const o = object(json, 'request head');
  const v = integer(o.v, 'request head v', 0, 0xffff);
  if (v !== PROTOCOL_VERSION) fail('request head', `protocol version ${v} (this node speaks ${PROTOCOL_VERSION})`);
  const from = string(o.from, 'from');
  if (!NODE_ID.test(from)) fail('from', 'not a node id');
  const body = o.body;
  if (body !== 'whole' && body !== 'stream') fail('body', 'neither "whole" nor "stream"');
  const size = body === 'whole' ? integer(o.size, 'size', 0, Number.MAX_SAFE_INTEGER) : integer(o.size, 'size', -1, -1);
  const r = object(o.req, 'req');
  const scheme = r.scheme;
  if (scheme !== 'http' && scheme !== 'https') fail('req.scheme', 'neither http nor https');
  const req: WireRequest = {
    method: string(r.method, 'req.method'),
    path: string(r.path, 'req.path'),
    query: string(r.query, 'req.query'),
    route: string(r.route, 'req.route'),
    params: stringMap(r.params, 'req.params'),
    pathInfo: string(r.pathInfo, 'req.pathInfo'),
    headers: stringMap(r.headers, 'req.headers'),
    remoteAddr: string(r.remoteAddr, 'req.remoteAddr'),
    serverName: string(r.serverName, 'req.serverName'),
    serverPort: integer(r.serverPort, 'req.serverPort', 0, 65535),
    scheme: scheme as 'http' | 'https',
  };
  if (r.rawPath !== undefined) req.rawPath = string(r.rawPath, 'req.rawPath');
  return { v, from, idle: integer(o.idle, 'idle', 50, 600_000), body: body as 'whole' | 'stream', size, more: boolean(o.more, 'more'), req };
}

export function parseResponseHead(json: unknown): ResponseHead {
  const o = object(json, 'response head');
  return { status: integer(o.status, 'status', 0, 999), headers: pairs(o.headers, 'headers'), more: boolean(o.more, 'more') };
}

export function parseBodyEnd(json: unknown): BodyEnd {
  if (json === undefined) return {};
  const o = object(json, 'body end');
  return o.error === undefined ? {} : { error: oneLine(string(o.error, 'body end error')) };
}

export function parseResponseEnd(json: unknown): ResponseEnd {
  const o = object(json, 'response end');
  return { trailers: o.trailers === null ? null : pairs(o.trailers, 'trailers') };
}

export function parseError(json: unknown): WireError {
  const o = object(json, 'error');
  const code = string(o.code, 'error code');
  if (!ERROR_CODE.test(code)) fail('error code', 'not an error code');
  return { code, message: oneLine(string(o.message, 'error message')) };
}

/** A message on one printable line, bounded. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?').trim().slice(0, MAX_MESSAGE);
}

/** The node id in a server's reply subject (`<inbox>.<node>.<request>`): informative, for messages only. */
export function nodeOfReply(subject: string): string | undefined {
  const tokens = subject.split('.');
  const node = tokens[tokens.length - 2];
  return node !== undefined && NODE_ID.test(node) ? node : undefined;
}

/** A subject a peer may name as its reply address: printable, no spaces or wildcards, bounded. */
export const REPLY_SUBJECT = /^[!-)+-=?-~]{1,256}$/;

/** `bytes` in pieces of at most `size` (views, not copies). */
export function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}
