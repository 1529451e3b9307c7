/** What both ends of forwarding are configured with, and the defaults. */
import type { NatsConnection } from 'nats';
import { IsolaError } from '../errors.js';
import { FRAME_HEADER } from './forward-codec.js';
import { NODE_ID } from './subjects.js';

export interface ForwardOptions {
  /** This node's id ([a-z0-9-]{1,63}). */
  node: string;
  /** Body bytes per message; default min(256 KiB, the server's max_payload - 8 KiB). */
  chunkBytes?: number;
  /** No message from the peer this long → the request fails; default 5000. The client's value applies to both ends. */
  idleTimeoutMs?: number;
  /** Client: how many nodes to try while each answers busy; default 3. */
  attempts?: number;
  /** A full window waiting this long for an ack → the request fails (a peer that stopped reading); default 30000. */
  stallTimeoutMs?: number;
  /** Server: the largest whole (CGI) request body a peer may announce; default 64 MiB. The function's max-body is the runner's to check. */
  maxBodyBytes?: number;
}

export type ResolvedForwardOptions = Required<ForwardOptions> & { maxPayload: number };

/** Room for a head's JSON beside a chunk, and for what NATS adds. */
const HEAD_ROOM = 8 * 1024;
const DEFAULT_CHUNK = 256 * 1024;
/** A server that has not said its limit: NATS's default. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export function resolveOptions(nc: NatsConnection, o: ForwardOptions): ResolvedForwardOptions {
  if (!NODE_ID.test(o.node)) throw new IsolaError('USAGE', `forward: node id ${JSON.stringify(o.node)} is not a node id (lower-case letters, digits and -, at most 63)`);
  const maxPayload = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  const largest = maxPayload - FRAME_HEADER;
  const chunkBytes = o.chunkBytes ?? Math.min(DEFAULT_CHUNK, maxPayload - HEAD_ROOM);
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > largest) {
    throw new IsolaError('USAGE', `forward: chunk size ${chunkBytes} is not in [1, ${largest}] (the NATS server's max_payload is ${maxPayload})`);
  }
  const positive = (v: number | undefined, fallback: number, what: string): number => {
    const n = v ?? fallback;
    if (!Number.isInteger(n) || n < 1) throw new IsolaError('USAGE', `forward: ${what} ${n} is not a positive integer`);
    return n;
  };
  return {
    node: o.node,
    chunkBytes,
    idleTimeoutMs: Math.max(50, Math.min(600_000, positive(o.idleTimeoutMs, 5000, 'idle timeout'))),
    attempts: positive(o.attempts, 3, 'attempts'),
    stallTimeoutMs: positive(o.stallTimeoutMs, 30_000, 'stall timeout'),
    maxBodyBytes: positive(o.maxBodyBytes, 64 * 1024 * 1024, 'max body'),
    maxPayload,
  };
}
