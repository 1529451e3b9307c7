/**
 * startServer(): the listeners (listener.ts), the dispatch of reserved paths (health, metrics, admin) and
 * function routes, request ids, one log line and one metric per request, and close(graceMs).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Isolation } from '../cells/types.js';
import { IsolaError, isIsolaError } from '../errors.js';
import { checkGrants, grantPolicy, writableGrants, type GrantPolicy } from '../orchestrator/grant-policy.js';
import { loadManifest, parseFunctionEntry } from '../orchestrator/manifest.js';
import { openOrchestrator } from '../orchestrator/orchestrator.js';
import type { FunctionSpec, OrchestratorApi, OrchestratorOptions } from '../orchestrator/types.js';
import { handleAdmin, type AdminContext } from './admin.js';
import { loadOrCreateAdminToken } from './admin-token.js';
import { httpStatusFor, publicReason } from './error-status.js';
import { isRefused } from './connections.js';
import { handleFunctionRequest, type GatewayContext } from './gateway.js';
import { isLoopback, parseListen } from './listen-address.js';
import { openListener, type Listener } from './listener.js';
import { createLogger, type LogLevel } from './logger.js';
import { ServerMetrics } from './metrics.js';
import { parseRequestTarget } from './request-path.js';
import { sendJson, sendText } from './respond.js';
import { Router } from './router.js';
import { serverStoreSettings } from '../capabilities/keyvalue/config.js';
import { KvStores } from '../capabilities/keyvalue/host/stores.js';
import type { ClusterMember, JoinCluster } from '../orchestrator/cluster-api.js';

export interface ServerOptions {
  /** host:port (default 127.0.0.1:3000; port 0 picks a free one). */
  listen?: string;
  /** host:port of a listener of its own for the admin API; the main listener then answers 404 under /admin. */
  adminListen?: string;
  dataDir: string;
  manifestPath?: string;
  /** Quick mode: the stores its module is granted. */
  quickKeyValueStores?: string[];
  /** A TOML file of `[key-value-store.NAME]` tables (as Spin's runtime config), beside isola.toml's own. */
  runtimeConfigPath?: string;
  /** Quick mode (as `wasmtime serve`): serve this one module on every path, as a function named after the file. */
  modulePath?: string;
  adminToken?: string;
  logger?: Logger;
  logLevel?: LogLevel;
  defaultIsolation?: Isolation;
  /** Host directories admin deploys may grant (default: `<dataDir>/files`, created). isola.toml is not bound by it. */
  allowDirs?: string[];
  /** Isolations admin deploys may ask for (default: process, plus `defaultIsolation`). */
  allowIsolations?: Isolation[];
  maxHeaderBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** A response write that makes no progress this long (the client stopped reading) drops the connection. */
  sendTimeoutMs?: number;
  /** Connections served at once per listener; past it: 503 + close. */
  maxConnections?: number;
  maxUploadBytes?: number;
  /** Idle time (ms) after which a function's cells close, for functions that do not say (`idle-timeout`); 0: never. Default 5 min. */
  idleTimeoutMs?: number;
  /** Warm jailed cells kept ready for cold starts, not yet given to a tenant; 0: none. Default 2. */
  spareCells?: number;
  /** Functions the server holds at most; one more is refused with 409. Default 10000. */
  maxFunctions?: number;
  /** Distinct tenants the server holds at most; a deploy adding one more is refused with 409. Default 10000. */
  maxTenants?: number;
  /**
   * Join a cluster (`isola serve --cluster URL`): the hook that makes the local orchestrator a node, e.g. src/cluster's
   * `clusterJoiner(clusterSettings(flags, manifestPath))`. It runs before the server listens. Absent: a server of its own.
   */
  cluster?: JoinCluster;
  /** Builds the orchestrator (tests inject a fake); default: the real one. */
  createOrchestrator?: (opts: OrchestratorOptions) => OrchestratorApi | Promise<OrchestratorApi>;
}

export interface RunningServer {
  url: string;
  /** Where the admin API answers: `url`, or the `adminListen` listener's. */
  adminUrl: string;
  adminToken: string;
  tokenWasGenerated: boolean;
  orchestrator: OrchestratorApi;
  /** Connections open now, on all listeners. */
  openConnections(): number;
  /** The cluster this server is a node of (absent: none). */
  cluster?: ClusterMember;
  /** Re-reads the route table (after changing functions through `orchestrator` directly). */
  refreshRoutes(): void;
  /** Stop accepting, let in-flight requests finish for up to graceMs, then close everything. Idempotent. */
  close(graceMs?: number): Promise<void>;
}

export const SERVER_DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  sendTimeoutMs: 60_000,
  maxConnections: 1024,
  maxUploadBytes: 64 * 1024 * 1024,
} as const;

const realOrchestrator = (opts: OrchestratorOptions): Promise<OrchestratorApi> => openOrchestrator(opts);

type DensityOptions = Pick<OrchestratorOptions, 'idleTimeoutMs' | 'spareCells' | 'maxFunctions' | 'maxTenants'>;

/** The density settings given, checked (absent ones stay absent: the orchestrator's defaults, DENSITY_DEFAULTS). */
function densityOptions(opts: ServerOptions): DensityOptions {
  const out: DensityOptions = {};
  const whole = (v: number | undefined, min: number, what: string): void => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min)) throw new IsolaError('USAGE', `invalid ${what} ${v} (expected a whole number >= ${min})`);
  };
  whole(opts.spareCells, 0, 'spareCells');
  whole(opts.maxFunctions, 1, 'maxFunctions');
  whole(opts.maxTenants, 1, 'maxTenants');
  if (opts.idleTimeoutMs !== undefined && !(Number.isFinite(opts.idleTimeoutMs) && opts.idleTimeoutMs >= 0)) {
    throw new IsolaError('USAGE', `invalid idleTimeoutMs ${opts.idleTimeoutMs} (expected milliseconds >= 0)`);
  }
  if (opts.idleTimeoutMs !== undefined) out.idleTimeoutMs = opts.idleTimeoutMs;
  if (opts.spareCells !== undefined) out.spareCells = opts.spareCells;
  if (opts.maxFunctions !== undefined) out.maxFunctions = opts.maxFunctions;
  if (opts.maxTenants !== undefined) out.maxTenants = opts.maxTenants;
  return out;
}

/** Which paths a listener answers: the main one functions (and the admin API unless it has its own listener). */
interface Role {
  functions: boolean;
  admin: boolean;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const main = parseListen(opts.listen);
  const adminAddress = opts.adminListen === undefined ? undefined : parseListen(opts.adminListen);
  const logger = opts.logger ?? createLogger(opts.logLevel);
  const { token, generated } = loadOrCreateAdminToken(opts.dataDir, opts.adminToken);
  const policy = grantPolicy({ dataDir: opts.dataDir, allowDirs: opts.allowDirs, allowIsolations: opts.allowIsolations, defaultIsolation: opts.defaultIsolation });
  const density = densityOptions(opts); // checked before anything opens
  const versionOf = new Map<string, string>();
  let orchestrator: OrchestratorApi | undefined;
  const listeners: Listener[] = [];
  const openConnections = (): number => listeners.reduce((n, l) => n + l.connections.count, 0);
  const metrics = new ServerMetrics(() => orchestrator, openConnections);
  // Configured stores open now: one that cannot is the start's error, naming it (a store used later opens then).
  const kv = new KvStores({ dataDir: opts.dataDir, settings: serverStoreSettings(opts.manifestPath, opts.runtimeConfigPath), observe: (r) => metrics.kvOperation(r) });
  try {
    await kv.openConfigured();
  } catch (e) {
    await kv.close();
    throw e;
  }
  const factory = opts.createOrchestrator ?? realOrchestrator;
  const orch: OrchestratorApi = await factory({
    dataDir: opts.dataDir,
    kv,
    ...(opts.defaultIsolation ? { defaultIsolation: opts.defaultIsolation } : {}),
    ...density,
    onInvocation: (rec) => {
      if (versionOf.has(rec.requestId)) versionOf.set(rec.requestId, rec.version);
      metrics.invocation(rec);
      logger.info({ audit: rec }, 'invocation');
    },
  });
  let changed: (name?: string) => void = () => {};
  let urls = { url: '', adminUrl: '' };
  let cluster: ClusterMember | undefined;
  if (opts.cluster !== undefined) {
    try {
      const local = orch;
      // A version from the cluster is held to this server's own policy, as a deploy through its admin API is.
      const admit = (spec: FunctionSpec): void => {
        if (spec.files.length === 0 && policy.allowIsolations.includes(spec.isolation)) return;
        checkGrants(spec, policy, 'deploy', writableGrants(local.list().flatMap((f) => f.versions.map((v) => v.spec))));
      };
      cluster = await opts.cluster(orch, { dataDir: opts.dataDir, logger, urls: () => urls, changed: (name) => changed(name), admit });
    } catch (e) {
      await orch.close(0);
      await kv.close();
      throw e;
    }
    const member = cluster;
    metrics.clusterNode(member.node, () => member.nodes(), () => member.forwardStats());
  }
  const served: OrchestratorApi = cluster ?? orch;
  orchestrator = served;

  try {
    if (opts.manifestPath !== undefined) await deployManifest(served, opts.manifestPath, opts.defaultIsolation, policy, logger);
    if (opts.modulePath !== undefined) await deployQuick(served, opts.modulePath, opts.defaultIsolation, logger, opts.quickKeyValueStores);
  } catch (e) {
    await served.close(0);
    await kv.close();
    throw e;
  }

  let router = new Router(served.routes());
  /** After a change to `name` (the table follows that function), or to anything (it is read again whole). */
  const refreshRoutes = (name?: string): void => {
    if (name === undefined) {
      router = new Router(served.routes());
      return;
    }
    const f = served.get(name);
    router.set(name, f?.active ? f.route : undefined);
  };

  const gateway: GatewayContext = { orchestrator: served, logger, serverName: main.host, serverPort: main.port, versionOf };
  const admin: AdminContext = {
    orchestrator: served, token, logger, metrics, policy, defaultIsolation: opts.defaultIsolation, kv,
    ...(cluster ? { cluster: cluster.admin } : {}),
    maxUploadBytes: opts.maxUploadBytes ?? SERVER_DEFAULTS.maxUploadBytes, changed: refreshRoutes, followers: new Set(),
  };
  const idPrefix = randomBytes(4).toString('hex') + '-';
  let nextId = 0;
  let draining = false;
  const inflight = new Set<ServerResponse>();
  let idle: (() => void) | null = null;

  const dispatch = async (role: Role, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<[string, string]> => {
    let where;
    try {
      where = parseRequestTarget(req.url ?? '/');
    } catch (e) {
      logger.warn({ reqId: requestId, url: req.url?.slice(0, 200) }, publicReason(e));
      sendText(res, 400, publicReason(e));
      return ['', ''];
    }
    const [first, second, third] = where.segments;
    if (first === 'admin' && role.admin) {
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
        sendJson(res, draining ? 503 : 200, draining ? { status: 'draining' } : { status: 'ok', functions: served.routes().length });
      } else sendText(res, 404);
      return ['', ''];
    }
    const match = role.functions ? router.match(where.segments) : null;
    if (!match) {
      sendText(res, 404, 'no route matches');
      return ['', ''];
    }
    const version = await handleFunctionRequest(gateway, req, res, where, match, requestId);
    return [match.name, version];
  };

  const onRequest = (role: Role) => (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const requestId = idPrefix + (++nextId).toString(36);
    res.setHeader('x-request-id', requestId);
    const finished = ([fn, version]: [string, string]): void => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.request(fn, version, res.statusCode, seconds);
      if (logger.isLevelEnabled('info')) {
        logger.info({ reqId: requestId, method: req.method, path: req.url?.slice(0, 512), status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, function: fn || undefined, version: version || undefined }, 'request');
      }
    };
    if (draining || isRefused(req.socket)) {
      sendText(res, 503, draining ? 'server is shutting down' : 'too many connections', { connection: 'close', 'retry-after': '1' });
      finished(['', '']);
      return;
    }
    inflight.add(res);
    dispatch(role, req, res, requestId)
      .catch((e: unknown) => {
        logger.error({ reqId: requestId, err: e }, 'internal error');
        if (!res.headersSent) sendText(res, httpStatusFor(e, 'request'), undefined, { 'x-isola-error': publicReason(e) });
        else res.destroy();
        return ['', ''] as [string, string];
      })
      .then((result) => {
        inflight.delete(res);
        if (idle && inflight.size === 0) idle();
        finished(result);
      });
  };

  const limits = {
    maxHeaderBytes: opts.maxHeaderBytes ?? SERVER_DEFAULTS.maxHeaderBytes,
    headersTimeoutMs: opts.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
    keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs,
    sendTimeoutMs: opts.sendTimeoutMs ?? SERVER_DEFAULTS.sendTimeoutMs,
    maxConnections: opts.maxConnections ?? SERVER_DEFAULTS.maxConnections,
    logger,
  };
  try {
    listeners.push(await openListener({ ...limits, ...main, onRequest: onRequest({ functions: true, admin: adminAddress === undefined }) }));
    if (adminAddress) listeners.push(await openListener({ ...limits, ...adminAddress, onRequest: onRequest({ functions: false, admin: true }) }));
  } catch (e) {
    for (const l of listeners) {
      l.server.close();
      l.connections.stop();
    }
    await served.close(0); // its pools hold cells (processes): never leave them behind a failed start
    throw e;
  }
  const [primary, adminListener = primary] = listeners as [Listener, Listener?];
  gateway.serverPort = primary.port;
  urls = { url: primary.url, adminUrl: adminListener.url };
  changed = refreshRoutes;
  logger.info({ url: primary.url, adminUrl: adminListener.url, functions: served.routes().length }, 'listening');
  if (!isLoopback(adminListener.url)) logger.warn({ adminUrl: adminListener.url }, 'the admin API is reachable from the network');

  let closing: Promise<void> | null = null;
  const close = (graceMs = 10_000): Promise<void> =>
    (closing ??= (async () => {
      draining = true;
      for (const stop of [...admin.followers]) stop(); // log follows end cleanly, not cut by closeAllConnections below
      const deadline = Date.now() + graceMs;
      const stopped = Promise.all(listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
      for (const l of listeners) l.server.closeIdleConnections();
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
      for (const l of listeners) {
        l.server.closeAllConnections();
        l.connections.stop();
      }
      await stopped;
      await served.close(Math.max(0, deadline - Date.now()));
      await kv.close();
      logger.info({ abandoned: inflight.size }, 'server closed');
      logger.flush?.();
    })());

  return {
    url: primary.url,
    adminUrl: adminListener.url,
    adminToken: token,
    tokenWasGenerated: generated,
    orchestrator: served,
    ...(cluster ? { cluster } : {}),
    openConnections,
    refreshRoutes,
    close,
  };
}

/** The function quick mode serves: named after the file (as a function name may be), on every path. */
export function quickFunctionName(path: string): string {
  const name = basename(path).replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z0-9]+|-+$/g, '').slice(0, 63);
  return name === '' ? 'app' : name;
}

async function deployQuick(orch: OrchestratorApi, path: string, defaultIsolation: Isolation | undefined, logger: Logger, kv: string[] = []): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IsolaError('IO', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const name = quickFunctionName(path);
  const spec = parseFunctionEntry(name, kv.length > 0 ? { route: '/...', 'key-value-stores': kv } : { route: '/...' }, { where: path, ...(defaultIsolation ? { defaultIsolation } : {}) });
  try {
    const v = await orch.deploy(spec, bytes);
    logger.info({ function: name, version: v.id, route: spec.route }, 'serving one module');
  } catch (e) {
    if (isIsolaError(e)) throw new IsolaError(e.code, `${path}: ${e.message}`, e.detail);
    throw e;
  }
}

async function deployManifest(orch: OrchestratorApi, path: string, defaultIsolation: Isolation | undefined, policy: GrantPolicy, logger: Logger): Promise<void> {
  const file = basename(path);
  const loaded = loadManifest(path, defaultIsolation ? { defaultIsolation } : {});
  // Where guests can write: every read-write grant of the manifest and of what the server already holds.
  const writable = writableGrants([...loaded, ...orch.list().flatMap((f) => f.versions.map((v) => v.spec))]);
  const specs = loaded.map((spec) => {
    try {
      return checkGrants(spec, policy, 'manifest', writable);
    } catch (e) {
      throw isIsolaError(e) ? new IsolaError(e.code, `${file}: ${e.message}`, e.detail) : e;
    }
  });
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
