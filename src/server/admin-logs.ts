/**
 * `GET /admin/functions/:name/logs?since=10m&tail=100&follow=1`: a function's log as JSON lines
 * (application/x-ndjson, one LogRecord each). With `follow` the answer stays open and each new line is
 * sent as it is written, until the client goes away, the function is removed or the server drains.
 * In a cluster a read without `follow` has the records of every node (each with its `node`); a follow
 * stays on this node's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ClusterAdminApi } from '../orchestrator/cluster-api.js';
import type { LogQuery, LogRecord, OrchestratorApi } from '../orchestrator/types.js';
import { parseSince, parseTail } from './log-query.js';
import { endWithBody } from './respond.js';

/** A follower whose client reads slower than its function logs is cut off once this much waits for it. */
const MAX_FOLLOW_BACKLOG = 1024 * 1024;

export interface LogsContext {
  orchestrator: OrchestratorApi;
  logger: Logger;
  /** One `stop` per open follow: the server calls them when it starts draining. */
  followers: Set<() => void>;
  /** When in a cluster: reads go to every node. */
  cluster?: ClusterAdminApi;
}

const line = (r: LogRecord): string => JSON.stringify(r) + '\n';

/** Parses the query (a bad one throws USAGE before anything is sent) and answers. */
export async function serveLogs(ctx: LogsContext, req: IncomingMessage, res: ServerResponse, name: string, query: string): Promise<void> {
  const params = new URLSearchParams(query);
  const q: LogQuery = {};
  const since = params.get('since');
  const tail = params.get('tail');
  if (since !== null) q.sinceMs = parseSince(since);
  if (tail !== null) q.tail = parseTail(tail);
  const follow = ['1', 'true'].includes(params.get('follow') ?? '');
  // Every node's records are asked before the head is sent (a failure is still a JSON error); the local
  // read is not awaited, so a follow begins in the same tick.
  const records = !follow && ctx.cluster ? await ctx.cluster.logs(name, q) : ctx.orchestrator.logs.read(name, q);
  const backlog = records.map(line).join('');
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  if (!follow) {
    endWithBody(res, Buffer.from(backlog));
    return;
  }
  // Read and follow in the same tick: no line is missed or sent twice.
  if (backlog) res.write(backlog);
  else res.flushHeaders(); // the client learns the follow has begun before the first line
  const stop = (): void => {
    unfollow();
    ctx.followers.delete(stop);
    if (!res.writableEnded) res.end();
  };
  const unfollow = ctx.orchestrator.logs.follow(name, (r) => {
    if (res.writableLength > MAX_FOLLOW_BACKLOG) {
      ctx.logger.warn({ function: name, remote: req.socket.remoteAddress }, 'logs: a follower read too slowly and was cut off');
      unfollow();
      res.destroy();
      return;
    }
    res.write(line(r));
  }, stop);
  ctx.followers.add(stop);
  res.once('close', stop);
}
