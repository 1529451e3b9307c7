/**
 * A function's logs from every node: a read is a request-many on `names.logs`; each node answers with its
 * own records (at most MAX_RECORDS, and under the server's max_payload: the oldest are cut first, and the
 * reply says so), and the asker merges them by time, applying `tail` after the merge. A node that does not
 * answer within the timeout is left out; it never holds the read up longer.
 */
import { RequestStrategy, type Msg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { IsolaError } from '../errors.js';
import { FUNCTION_NAME } from '../orchestrator/function-name.js';
import type { FunctionLogsApi, LogQuery, LogRecord } from '../orchestrator/types.js';
import { decodeObject, jsonBytes } from './json.js';
import { NODE_ID } from './subjects.js';
import type { ClusterNames } from './subjects.js';
import type { NodeLogRecord } from './types.js';

/** Records one node sends per read at most. */
export const MAX_RECORDS = 1000;
/** Room kept in a reply for NATS' own framing. */
const PAYLOAD_MARGIN = 1024;
const STREAMS = new Set(['stdout', 'stderr', 'isola']);

interface LogsRequest {
  name: string;
  sinceMs?: number;
  tail?: number;
}

interface LogsReply {
  node: string;
  records: LogRecord[];
  /** Older records were not sent (the record cap or max_payload). */
  truncated: boolean;
}

function parseRequest(data: Uint8Array): LogsRequest | string {
  const o = decodeObject(data, 4096);
  if (typeof o === 'string') return o;
  if (typeof o.name !== 'string' || !FUNCTION_NAME.test(o.name)) return 'bad name';
  if (o.sinceMs !== undefined && !Number.isFinite(o.sinceMs)) return 'bad sinceMs';
  if (o.tail !== undefined && !(Number.isSafeInteger(o.tail) && (o.tail as number) >= 0)) return 'bad tail';
  return { name: o.name, sinceMs: o.sinceMs as number | undefined, tail: o.tail as number | undefined };
}

const field = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

function isRecord(v: unknown, name: string): v is LogRecord {
  const r = v as Record<string, unknown> | null;
  return typeof r === 'object' && r !== null && r.function === name && field(r.time, 64) && !Number.isNaN(Date.parse(r.time)) &&
    field(r.requestId, 256) && field(r.version, 64) && STREAMS.has(r.stream as string) && typeof r.text === 'string';
}

function parseReply(data: Uint8Array, name: string): LogsReply | string {
  const o = decodeObject(data);
  if (typeof o === 'string') return o;
  if (typeof o.node !== 'string' || !NODE_ID.test(o.node)) return 'bad node';
  if (!Array.isArray(o.records)) return 'bad records';
  // A record that is not one is dropped, not the node's whole answer.
  const records = o.records.filter((r): r is LogRecord => isRecord(r, name)).map(({ time, requestId, function: fn, version, stream, text }) => ({ time, requestId, function: fn, version, stream, text }));
  return { node: o.node, records, truncated: o.truncated === true };
}

/** This node's newest records that fit in `limit` bytes of JSON, and whether any were left out. */
function fit(node: string, records: LogRecord[], limit: number): LogsReply {
  let size = 64 + node.length;
  let first = records.length;
  while (first > 0) {
    const next = size + Buffer.byteLength(JSON.stringify(records[first - 1])) + 1;
    if (next > limit) break;
    size = next;
    first--;
  }
  return { node, records: records.slice(first), truncated: first > 0 };
}

/** Answers log reads with this node's records of the function. */
export function serveClusterLogs(nc: NatsConnection, names: ClusterNames, node: string, logs: FunctionLogsApi, logger?: Logger): { close(): void } {
  const answer = (msg: Msg): void => {
    if (!msg.reply) return;
    const q = parseRequest(msg.data);
    if (typeof q === 'string') {
      logger?.debug(`cluster: ignored a log read (${q})`);
      return;
    }
    try {
      // One more than we send: if it comes, older records exist that this reply leaves out.
      const cap = Math.min(q.tail ?? Infinity, MAX_RECORDS + 1);
      const records = logs.read(q.name, { ...(q.sinceMs !== undefined && { sinceMs: q.sinceMs }), tail: cap });
      const capped = records.length > MAX_RECORDS;
      const reply = fit(node, capped ? records.slice(1) : records, (nc.info?.max_payload ?? 1024 * 1024) - PAYLOAD_MARGIN);
      msg.respond(jsonBytes({ ...reply, truncated: reply.truncated || capped }));
    } catch (e) {
      logger?.warn({ err: e, function: q.name }, 'cluster: log read not answered');
    }
  };
  const sub = nc.subscribe(names.logs, { callback: (err, msg) => (err ? logger?.debug({ err }, 'cluster: log subscription') : answer(msg)) });
  return { close: () => sub.unsubscribe() };
}

/** A node's records with its id, after a marker line where older records were cut. */
function fromNode(reply: LogsReply, name: string): NodeLogRecord[] {
  const records: NodeLogRecord[] = reply.records.map((r) => ({ ...r, node: reply.node }));
  if (!reply.truncated) return records;
  const marker: NodeLogRecord = {
    time: reply.records[0]?.time ?? new Date(0).toISOString(), requestId: '', function: name, version: '', stream: 'isola', node: reply.node,
    text: `older records on node ${reply.node} not sent (a node sends at most ${MAX_RECORDS} per read, within NATS max_payload)`,
  };
  return [marker, ...records];
}

/** Every answering node's records, merged by time (stable: per node, then in its order), `tail` after the merge. */
export async function readClusterLogs(
  nc: NatsConnection, names: ClusterNames, name: string, query: LogQuery, opts: { expect: number; timeoutMs?: number },
): Promise<NodeLogRecord[]> {
  const request: LogsRequest = { name, ...(query.sinceMs !== undefined && { sinceMs: query.sinceMs }), ...(query.tail !== undefined && { tail: query.tail }) };
  const byNode = new Map<string, NodeLogRecord[]>();
  try {
    const replies = await nc.requestMany(names.logs, jsonBytes(request), { maxWait: opts.timeoutMs ?? 1000, strategy: RequestStrategy.Timer });
    for await (const msg of replies) {
      const reply = parseReply(msg.data, name);
      if (typeof reply === 'string' || byNode.has(reply.node)) continue; // garbage, or a node's second answer
      byNode.set(reply.node, fromNode(reply, name));
      if (byNode.size >= opts.expect) break;
    }
  } catch (e) {
    if (byNode.size === 0) throw new IsolaError('UNAVAILABLE', `cannot read logs from the cluster: ${(e as Error).message}`);
  }
  const nodes = [...byNode.keys()].sort();
  const merged = nodes.flatMap((n) => byNode.get(n)!).map((r, i) => ({ r, i, t: Date.parse(r.time) }));
  merged.sort((a, b) => a.t - b.t || a.i - b.i);
  const all = merged.map((m) => m.r);
  return query.tail !== undefined ? all.slice(Math.max(0, all.length - query.tail)) : all;
}
