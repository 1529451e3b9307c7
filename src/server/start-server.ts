/**
 * startServer(): node:http with the hardening options set, the dispatch of reserved paths (health, metrics,
 * admin) and function routes, request ids, one log line and one metric per request, and close(graceMs).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Isolation } from '../cells/types.js';
import { IsolaError, isIsolaError } from '../errors.js';
import { CellPool } from '../cells/index.js';
import { loadManifest } from '../orchestrator/manifest.js';
import { openOrchestrator } from '../orchestrator/orchestrator.js';
import type { OrchestratorApi, OrchestratorOptions } from '../orchestrator/types.js';
import { handleAdmin, type AdminContext } from './admin.js';
import { loadOrCreateAdminToken } from './admin-token.js';
import { httpStatusFor, publicReason } from './error-status.js';
import { handleFunctionRequest, type GatewayContext } from './gateway.js';
import { parseListen } from './listen-address.js';
import { createLogger, type LogLevel } from './logger.js';
import { ServerMetrics } from './metrics.js';
import { parseRequestTarget } from './request-path.js';
import { sendJson, sendText } from './respond.js';
import { Router } from './router.js';

export interface ServerOptions {
  /** host:port (default 127.0.0.1:3000; port 0 picks a free one). */
  listen?: string;
  dataDir: string;
  manifestPath?: string;
  adminToken?: string;
  logger?: Logger;
  logLevel?: LogLevel;
  defaultIsolation?: Isolation;
  maxHeaderBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  maxUploadBytes?: number;
  /** Builds the orchestrator (tests inject a fake); default: the real one. */
  createOrchestrator?: (opts: OrchestratorOptions) => OrchestratorApi | Promise<OrchestratorApi>;
}

export interface RunningServer {
  url: string;
  adminToken: string;
  tokenWasGenerated: boolean;
  orchestrator: OrchestratorApi;
  /** Re-reads the route table (after changing functions through `orchestrator` directly). */
  refreshRoutes(): void;
  /** Stop accepting, let in-flight requests finish for up to graceMs, then close everything. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

const realOrchestrator = (opts: OrchestratorOptions): Promise<OrchestratorApi> => openOrchestrator(opts, { createPool: (o) => new CellPool(o) });

const KiB = 1024;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { host, port } = parseListen(opts.listen);
  const logger = opts.logger ?? createLogger(opts.logLevel);
  const { token, generated } = loadOrCreateAdminToken(opts.dataDir, opts.adminToken);
  const versionOf = new Map<string, string>();
  let orchestrator: OrchestratorApi | undefined;
  const metrics = new ServerMetrics(() => orchestrator);
  const factory = opts.createOrchestrator ?? realOrchestrator;
  const orch: OrchestratorApi = await factory({
    dataDir: opts.dataDir,
    ...(opts.defaultIsolation ? { defaultIsolation: opts.defaultIsolation } : {}),
    onInvocation: (rec) => {
      if (versionOf.has(rec.requestId)) versionOf.set(rec.requestId, rec.version);
      metrics.invocation(rec);
      logger.info({ audit: rec }, 'invocation');
    },
  });
  orchestrator = orch;

  try {
    if (opts.manifestPath !== undefined) await deployManifest(orch, opts.manifestPath, opts.defaultIsolation, logger);
  } catch (e) {
    await orch.close(0);
    throw e;
  }

  let router = new Router(orch.routes());
  const refreshRoutes = (): void => {
    router = new Router(orch.routes());
  };

  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const headersTimeoutMs = Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeoutMs);
  const server = createServer({
    maxHeaderSize: opts.maxHeaderBytes ?? 16 * KiB,
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    // How often node checks the two timeouts above (its default, 30 s, would let a slowloris linger).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
  });

  const gateway: GatewayContext = { orchestrator: orch, logger, serverName: host, serverPort: port, versionOf };
  const admin: AdminContext = { orchestrator: orch, token, logger, metrics, maxUploadBytes: opts.maxUploadBytes ?? 64 * KiB * KiB, changed: refreshRoutes };
  const idPrefix = randomBytes(4).toString('hex') + '-';
  let nextId = 0;
  let draining = false;
  const inflight = new Set<ServerResponse>();
  let idle: (() => void) | null = null;

  const dispatch = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<[string, string]> => {
    let where;
    try {
      where = parseRequestTarget(req.url ?? '/');
    } catch (e) {
      logger.warn({ reqId: requestId, url: req.url?.slice(0, 200) }, publicReason(e));
      sendText(res, 400, publicReason(e));
      return ['', ''];
    }
    const [first, second, third] = where.segments;
    if (first === 'admin') {
      await handleAdmin(admin, req, res, where.segments.slice(1), where.query, requestId);
      return ['', ''];
    }
    if (first === 'metrics' && where.segments.length === 1) {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(body);
      return ['', ''];
    }
    if (first === '.well-known' && second === 'isola') {
      if (third === 'health' && where.segments.length === 3) {
        sendJson(res, draining ? 503 : 200, draining ? { status: 'draining' } : { status: 'ok', functions: orch.routes().length });
      } else sendText(res, 404);
      return ['', ''];
    }
    const match = router.match(where.segments);
    if (!match) {
      sendText(res, 404, 'no route matches');
      return ['', ''];
    }
    const version = await handleFunctionRequest(gateway, req, res, where, match, requestId);
    return [match.name, version];
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const requestId = idPrefix + (++nextId).toString(36);
    res.setHeader('x-request-id', requestId);
    if (draining) {
      sendText(res, 503, 'server is shutting down', { connection: 'close', 'retry-after': '1' });
      return;
    }
    inflight.add(res);
    dispatch(req, res, requestId)
      .catch((e: unknown) => {
        logger.error({ reqId: requestId, err: e }, 'internal error');
        if (!res.headersSent) sendText(res, httpStatusFor(e, 'request'), undefined, { 'x-isola-error': publicReason(e) });
        else res.destroy();
        return ['', ''] as [string, string];
      })
      .then(([fn, version]) => {
        inflight.delete(res);
        if (idle && inflight.size === 0) idle();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.request(fn, version, res.statusCode, seconds);
        if (logger.isLevelEnabled('info')) {
          logger.info({ reqId: requestId, method: req.method, path: req.url?.slice(0, 512), status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, function: fn || undefined, version: version || undefined }, 'request');
        }
      });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = status === 431 ? 'request header fields too large\n' : status === 408 ? 'request timeout\n' : 'bad request\n';
    logger.warn({ code: err.code, status, remote: socket.remoteAddress }, 'bad HTTP from client');
    socket.end(`HTTP/1.1 ${status} ${body.trim()}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new IsolaError('IO', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`)));
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    await orch.close(0); // its pools hold cells (processes): never leave them behind a failed start
    throw e;
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  gateway.serverPort = actualPort;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  logger.info({ url, functions: orch.routes().length }, 'listening');

  let closing: Promise<void> | null = null;
  const close = (graceMs = 10_000): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      const deadline = Date.now() + graceMs;
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      for (const res of inflight) if (!res.headersSent) res.setHeader('connection', 'close');
      if (inflight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, graceMs));
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      server.closeAllConnections();
      await stopped;
      await orch.close(Math.max(0, deadline - Date.now()));
      logger.info({ abandoned: inflight.size }, 'server closed');
      logger.flush?.();
    })());

  return { url, adminToken: token, tokenWasGenerated: generated, orchestrator: orch, refreshRoutes, close };
}

async function deployManifest(orch: OrchestratorApi, path: string, defaultIsolation: Isolation | undefined, logger: Logger): Promise<void> {
  const specs = loadManifest(path, defaultIsolation ? { defaultIsolation } : {});
  for (const spec of specs) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec.source!);
    } catch (e) {
      throw new IsolaError('MANIFEST', `function.${spec.name}.source: cannot read ${spec.source}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const v = await orch.deploy(spec, bytes);
      logger.info({ function: spec.name, version: v.id, route: spec.route }, 'deployed from manifest');
    } catch (e) {
      if (isIsolaError(e)) throw new IsolaError(e.code, `function.${spec.name}: ${e.message}`, e.detail);
      throw e;
    }
  }
}
