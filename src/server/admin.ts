/**
 * The admin API (see README.md for the exact shapes). Bearer token first, then one handler per route.
 * Every failure is a 4xx JSON {error} and a log line; the orchestrator validates and compiles before it
 * stores anything, so a failed deploy changes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { IsolaError, isIsolaError } from '../errors.js';
import type { Isolation } from '../cells/types.js';
import type { OrchestratorApi, VersionInfo } from '../orchestrator/types.js';
import { checkGrants, writableGrants, type GrantPolicy } from '../orchestrator/grant-policy.js';
import { checkFunctionName, parseFunctionEntry } from '../orchestrator/manifest.js';
import { serveLogs } from './admin-logs.js';
import { checkBearer } from './admin-token.js';
import { adminReason, httpStatusFor, publicReason } from './error-status.js';
import type { ServerMetrics } from './metrics.js';
import { readBody } from './read-body.js';
import { sendJson } from './respond.js';
import { kvAdminOperation } from './admin-kv.js';
import type { KvStores } from '../capabilities/keyvalue/host/stores.js';
import type { ClusterAdminApi } from '../orchestrator/cluster-api.js';
import { clusterAdminOperation } from './admin-cluster.js';

export interface AdminContext {
  orchestrator: OrchestratorApi;
  token: string;
  logger: Logger;
  metrics: ServerMetrics;
  /** What a deploy may grant (directories, isolations). */
  policy: GrantPolicy;
  /** The isolation of a deployed function that does not say. */
  defaultIsolation: Isolation | undefined;
  maxUploadBytes: number;
  /** Called after every change to a function, so the gateway's route table follows it. */
  changed: (name?: string) => void;
  /** Open log follows (the server ends them when it drains). */
  followers: Set<() => void>;
  /** The key-value stores (`/admin/kv`). */
  kv: KvStores;
  /** This node's cluster (`/admin/cluster`, logs from every node); absent: not in a cluster. */
  cluster?: ClusterAdminApi;
}

/** Operations that change nothing (no route refresh, no admin log line). */
const READS = new Set(['list', 'get', 'logs', 'kv-stores', 'kv-list', 'kv-get', 'cluster']);

const MAX_JSON_BODY = 64 * 1024;

const usage = (message: string): IsolaError => new IsolaError('USAGE', message);

function functionName(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw usage('bad function name');
  }
  try {
    checkFunctionName(name, 'function name');
  } catch (e) {
    throw usage(publicReason(e));
  }
  return name;
}

function parseManifestHeader(value: string | string[] | undefined): unknown {
  if (value === undefined) return {};
  if (Array.isArray(value)) throw usage('x-isola-manifest given twice');
  try {
    return JSON.parse(value);
  } catch {
    throw usage('x-isola-manifest: expected a JSON object');
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MAX_JSON_BODY, 'JSON body');
  if (bytes.byteLength === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw usage('expected a JSON object body');
}

function requireFunction(orch: OrchestratorApi, name: string) {
  const f = orch.get(name);
  if (!f) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
  return f;
}

interface Op {
  operation: string;
  run: () => Promise<[number, unknown]>;
}

async function deploy(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, name: string, activate: boolean): Promise<[number, unknown] | null> {
  const entry = parseManifestHeader(req.headers['x-isola-manifest']);
  const parsed = parseFunctionEntry(name, entry, { where: 'manifest entry', source: 'forbidden', defaultIsolation: ctx.defaultIsolation });
  // Only grants of directories need them (every version of every function: thousands, so not on every deploy).
  const writable = parsed.files.length === 0 ? [] : writableGrants(ctx.orchestrator.list().flatMap((f) => f.versions.map((v) => v.spec)));
  const spec = checkGrants(parsed, ctx.policy, 'deploy', writable); // before the upload is read: a refused deploy costs nothing
  const bytes = await readBody(req, ctx.maxUploadBytes, 'upload');
  if (bytes.byteLength === 0) throw usage('empty upload: send the module bytes as the request body');
  const streaming = String(req.headers['accept'] ?? '').includes('application/x-ndjson');
  if (!streaming) {
    const v = await ctx.orchestrator.deploy(spec, bytes, { activate });
    return [201, deployed(ctx, name, v)];
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.write(JSON.stringify({ phase: 'received', bytes: bytes.byteLength }) + '\n');
  try {
    const v = await ctx.orchestrator.deploy(spec, bytes, { activate, onProgress: (phase) => res.write(JSON.stringify({ phase }) + '\n') });
    res.end(JSON.stringify({ ok: true, ...deployed(ctx, name, v) }) + '\n');
  } catch (e) {
    res.end(JSON.stringify({ ok: false, status: httpStatusFor(e, 'admin'), error: adminReason(e) }) + '\n');
    throw e; // logged and counted by the caller, which sees the response is already sent
  }
  return null;
}

function deployed(ctx: AdminContext, name: string, version: VersionInfo) {
  return { function: name, version, active: ctx.orchestrator.get(name)?.active ?? null };
}

/** `/admin/functions/:name/<action>`: its method, and what it does to the function (known to exist). */
interface Action {
  method: string;
  run: (ctx: AdminContext, req: IncomingMessage, res: ServerResponse, name: string, query: string) => Promise<[number, unknown]>;
}

const ACTIONS: Record<string, Action> = {
  activate: {
    method: 'POST',
    run: async (ctx, req, _res, name) => {
      const { version } = await readJson(req);
      if (typeof version !== 'string' || version === '') throw usage('expected {"version":"<id>"}');
      await ctx.orchestrator.activate(name, version);
      return [200, { function: name, active: version }];
    },
  },
  rollback: {
    method: 'POST',
    run: async (ctx, _req, _res, name) => {
      const v = await ctx.orchestrator.rollback(name);
      return [200, { function: name, active: v.id, version: v }];
    },
  },
  logs: {
    method: 'GET',
    run: async (ctx, req, res, name, query) => {
      await serveLogs(ctx, req, res, name, query); // answers itself (and, following, keeps answering)
      return [200, null];
    },
  },
};

/** Handles /admin/...; `segments` are the decoded path segments after "admin". */
export async function handleAdmin(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, segments: string[], query: string, requestId: string): Promise<number> {
  if (!checkBearer(req.headers['authorization'], ctx.token)) {
    ctx.logger.warn({ reqId: requestId, path: req.url }, 'admin: missing or wrong token');
    ctx.metrics.adminOperation('auth', false);
    sendJson(res, 401, { error: 'missing or wrong admin token' }, { 'www-authenticate': 'Bearer' });
    return 401;
  }
  const method = req.method ?? 'GET';
  const orch = ctx.orchestrator;
  let op: Op;
  const [head, rawName, action, ...rest] = segments;
  const allow = (methods: string): number => {
    sendJson(res, 405, { error: `method ${method} not allowed here (use ${methods})` }, { allow: methods });
    return 405;
  };
  if (head === 'kv') {
    const kvOp = kvAdminOperation(ctx, req, res, segments.slice(1), query, ctx.maxUploadBytes);
    if (kvOp === null) {
      sendJson(res, 404, { error: 'no such admin endpoint' });
      return 404;
    }
    if (typeof kvOp === 'string') return allow(kvOp);
    op = kvOp;
  } else if (head === 'cluster' && segments.length === 1) {
    const clusterOp = clusterAdminOperation(ctx.cluster, method);
    if (typeof clusterOp === 'string') return allow(clusterOp);
    op = clusterOp;
  } else if (head === 'tenants' && segments.length === 1) {
    if (method !== 'GET') return allow('GET');
    op = { operation: 'tenants', run: async () => [200, { tenants: orch.tenants?.() ?? [], spares: orch.spares?.() ?? null }] };
  } else if (head !== 'functions' || rest.length > 0) {
    sendJson(res, 404, { error: 'no such admin endpoint' });
    return 404;
  } else if (rawName === undefined || rawName === '') {
    if (method !== 'GET') return allow('GET');
    op = { operation: 'list', run: async () => [200, { functions: orch.list() }] };
  } else if (action === undefined) {
    if (method === 'GET') op = { operation: 'get', run: async () => [200, requireFunction(orch, functionName(rawName))] };
    else if (method === 'PUT') {
      const activate = new URLSearchParams(query).get('activate') !== 'false';
      op = {
        operation: 'deploy',
        run: async () => {
          const r = await deploy(ctx, req, res, functionName(rawName), activate);
          return r ?? [200, null];
        },
      };
    } else if (method === 'DELETE') {
      op = {
        operation: 'remove',
        run: async () => {
          const name = functionName(rawName);
          await orch.remove(name); // NOT_FOUND from the orchestrator (a cluster node also removes what it never ran)
          return [200, { function: name, removed: true }];
        },
      };
    } else return allow('GET, PUT, DELETE');
  } else {
    const act = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (!act) {
      sendJson(res, 404, { error: 'no such admin endpoint' });
      return 404;
    }
    if (method !== act.method) return allow(act.method);
    op = {
      operation: action,
      run: async () => {
        const name = functionName(rawName);
        requireFunction(orch, name);
        return act.run(ctx, req, res, name, query);
      },
    };
  }

  try {
    const [status, body] = await op.run();
    if (!READS.has(op.operation)) {
      if (head === 'functions' && rawName) ctx.changed(functionName(rawName));
      ctx.logger.info({ reqId: requestId, operation: op.operation, function: rawName }, 'admin operation');
    }
    ctx.metrics.adminOperation(op.operation, true);
    if (!res.headersSent) sendJson(res, status, body);
    return status;
  } catch (e) {
    const status = httpStatusFor(e, 'admin');
    const error = adminReason(e);
    ctx.metrics.adminOperation(op.operation, false);
    if (isIsolaError(e)) ctx.logger.warn({ reqId: requestId, operation: op.operation, function: rawName, status }, `admin: ${e.message}`);
    else ctx.logger.error({ reqId: requestId, operation: op.operation, err: e }, 'admin: internal error');
    if (!res.headersSent) sendJson(res, status, { error });
    else if (!res.writableEnded) res.end();
    return status;
  }
}
