/**
 * The contract between the server (HTTP) and the orchestrator (functions, versions, pools, admission).
 * The orchestrator never parses HTTP; the server never touches Wasm. Both sides use these shapes.
 */
import type { Isolation, PoolStats } from '../cells/types.js';
import type { OutboundRecord as OutboundCall } from '../capabilities/wasi-http/host/outbound.js';
import type { KvStores } from '../capabilities/keyvalue/host/stores.js';
import type { KvUse } from '../capabilities/keyvalue/host/broker.js';

/** One `[function.NAME]` table of isola.toml, or a deploy's manifest entry, after validation. */
export interface FunctionSpec {
  /** [a-z0-9][a-z0-9-]{0,62}, unique. */
  name: string;
  /** Spin-style: exact `/a/b`, `:param` segments, trailing `/...` wildcard. */
  route: string;
  /** Path of the .wasm (manifest only; relative to the manifest's folder). Deploys carry bytes instead. */
  source?: string;
  limits: FunctionLimits;
  /** Environment variables granted to the guest (added to the CGI variables; CGI names win). */
  env: Record<string, string>;
  /** Directories granted: host path (absolute after validation), guest path, read-only unless `readOnly: false`. */
  files: Array<{ hostPath: string; guestPath: string; readOnly: boolean }>;
  isolation: Isolation;
  /**
   * Where a wasi:http guest may send requests (Spin's syntax: `https://api.example.com`, `http://127.0.0.1:8080`,
   * `https://*.example.com`, `*://localhost:*`); none: nowhere. CGI guests have no network either way.
   */
  allowedOutboundHosts?: string[];
  /**
   * How requests reach the guest: 'cgi' (a WASI preview 1 command, WAGI) or 'wasi-http' (a component exporting
   * wasi:http/incoming-handler@0.2.x). Absent: chosen at deploy by what the module is (stored versions always say).
   */
  executor?: 'cgi' | 'wasi-http';
  /** Key-value stores the guest may open (by name, scoped to the server); none: every open is access-denied. */
  keyValueStores?: string[];
  /**
   * Tenant label (`tenant = "acme"`; the function-name rule). Functions of one tenant may share cells; functions
   * of different tenants never do. Absent: the function's own name (a tenant of one). The tenant of a spec is
   * `spec.tenant ?? spec.name` (tenantOf in server-limits.ts).
   */
  tenant?: string;
  /**
   * `idle-timeout`: the function's cells are closed after it has had no request this long (ms); its next request
   * is a cold start. 0: never scale to zero. Absent: the server's `OrchestratorOptions.idleTimeoutMs`.
   */
  idleTimeoutMs?: number;
}

export interface FunctionLimits {
  fuel?: number;
  maxMemoryBytes: number; // default 128 MiB
  maxTableElements?: number; // per table; default the engine's (DEFAULT_MAX_TABLE_ELEMENTS)
  timeoutMs: number; // default 10 s
  maxConcurrency: number; // running invocations per function, default 8
  maxQueue: number; // waiting beyond maxConcurrency before 503, default 64
  maxBodyBytes: number; // request body, default 1 MiB
  maxResponseBytes: number; // guest stdout, default 16 MiB
  maxOutboundRequests?: number; // outbound HTTP requests per request (wasi:http), default 32
  maxOutboundResponseBytes?: number; // one outbound response body, default 16 MiB
  maxKvCalls?: number; // key-value store calls per request, default 1000
}

/** A request as the executor sees it (already size-checked by the server). */
export interface HttpRequestDescriptor {
  method: string;
  /** Full request path, decoded once, without the query. */
  path: string;
  /** The path as it arrived (not decoded), without the query: the guest's X_RAW_PATH_INFO. */
  rawPath?: string;
  /** Raw query string without '?'. */
  query: string;
  /** The route that matched, its `:name` parameters, and for `/...` routes the remainder after the prefix. */
  route: string;
  params: Record<string, string>;
  pathInfo: string;
  /** Lower-case header names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** The body, read whole by the server (CGI functions); empty when `bodyStream` carries it. */
  body: Uint8Array;
  /** wasi:http functions: the client's request itself, paused, read only as the guest asks (max-body still counted). */
  bodyStream?: import('node:stream').Readable;
  remoteAddr: string;
  serverName: string;
  serverPort: number;
  scheme: 'http' | 'https';
}

export interface HttpResponseDescriptor {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
  /**
   * A streamed response (wasi:http): the body comes from here instead of `body` (empty), as the guest writes it;
   * iterating throws if the guest fails after its head. `completion` settles when the guest's work has ended:
   * its trailers (or null), or its failure. The consumer iterates to the end, or stops early (client gone).
   */
  stream?: AsyncIterable<Uint8Array>;
  completion?: Promise<Array<[string, string]> | null>;
}

/** How one kind of guest turns a request into a response: CGI, or a wasi:http component. */
export interface Executor {
  readonly kind: NonNullable<FunctionSpec['executor']>;
  handle(req: HttpRequestDescriptor, ctx: ExecutionContext): Promise<HttpResponseDescriptor>;
}

export interface ExecutionContext {
  spec: FunctionSpec;
  version: string;
  /** Runs the guest in the version's pool; the executor builds the InvokeRequest (kind 'wasi' for CGI). */
  run: import('../cells/types.js').CellPoolApi['invoke'];
  signal: AbortSignal;
  /** Records an outbound HTTP request the guest made (for the audit record and metrics). */
  outbound(call: OutboundCall): void;
  /** A line of isola's own in the function's log for this request. */
  note(text: string): void;
  /** The server's key-value stores, and where this request's store calls are recorded (audit, logs). */
  kv: { stores: KvStores; record(use: KvUse): void };
}

export interface VersionInfo {
  /** Content address: first 16 hex chars of sha256(module bytes + canonical spec JSON). */
  id: string;
  moduleSha256: string;
  size: number;
  createdAt: string; // ISO 8601
  spec: FunctionSpec;
}

export interface FunctionSummary {
  name: string;
  /** Its tenant: whose cells it may share (its own name unless its spec says). */
  tenant: string;
  route: string;
  active: string | null; // version id
  versions: VersionInfo[]; // newest first
  pool?: PoolStats;
}

/** A tenant's cells: what `isola functions` and /metrics show (figures since its pools started). */
export interface TenantSummary {
  tenant: string;
  /** Its functions (any version live or not). */
  functions: number;
  /** Cells alive now, idle and busy (0 once it scaled to zero). */
  cells: number;
  idle: number;
  busy: number;
  /** Modules loaded, summed over its cells. */
  modulesLoaded: number;
  /** Requests that had to load their module into the cell they got. */
  coldStarts: number;
  /** Cells it got from the warm spares, and cells it spawned itself. */
  fromSpares: number;
  spawned: number;
  /** Modules unloaded to make room (least recently used), and cells closed after the idle timeout. */
  evicted: number;
  scaledDown: number;
  crashed: number;
}

/** The warm spare cells of a server. */
export interface SpareSummary {
  /** Ready now, out of `wanted`. */
  ready: number;
  wanted: number;
  /** Given to tenants since start; times one was wanted and none was ready. */
  taken: number;
  missed: number;
}

/** What one invocation did: the audit record (one per invocation) and the source of metrics. */
export interface InvocationRecord {
  function: string;
  version: string;
  requestId: string;
  startedAt: string;
  durationMs: number;
  fuel: string; // bigint as text
  outcome: 'ok' | 'trap' | 'fuel' | 'timeout' | 'memory' | 'crash' | 'overloaded' | 'cancelled' | 'error';
  /** e.g. 'unreachable' for a trap, the error code otherwise. */
  detail?: string;
  status: number;
  grantsUsed: string[]; // e.g. ['env:GREETING', 'files:/data'] (granted to the invocation)
  /** The outbound HTTP requests the guest made (wasi:http), refused ones included. */
  outbound?: OutboundCall[];
  /** The guest's key-value store calls, counted by store, operation and outcome. */
  kv?: KvCalls[];
}

/** Store calls of one request with the same store, operation and outcome: how many, keys, value bytes. */
export interface KvCalls {
  store: string;
  op: string;
  outcome: string;
  calls: number;
  keys: number;
  bytes: number;
}

/** One outbound HTTP request in the audit record (made by capabilities/wasi-http/host/outbound.ts). */
export type { OutboundRecord as OutboundCall } from '../capabilities/wasi-http/host/outbound.js';

/** Where a log line came from: the guest's output streams, or isola's own note (a failed request). */
export type LogStream = 'stdout' | 'stderr' | 'isola';

/** One line of a function's log (and one JSON line of `<dataDir>/logs/<function>.log`). */
export interface LogRecord {
  /** ISO 8601, when the line was complete. */
  time: string;
  requestId: string;
  function: string;
  version: string;
  stream: LogStream;
  text: string;
}

export interface LogQuery {
  /** Only records at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only the last N of them. */
  tail?: number;
}

/** Reading the functions' logs (the orchestrator writes them: guest stderr per request, and failures). */
export interface FunctionLogsApi {
  read(name: string, query?: LogQuery): LogRecord[];
  /** `onRecord` for each record from now on, `onEnd` when the function is removed or the logs close. Returns: stop following. */
  follow(name: string, onRecord: (r: LogRecord) => void, onEnd: () => void): () => void;
}

export interface OrchestratorOptions {
  dataDir: string;
  /** Default isolation when a spec does not say. */
  defaultIsolation?: Isolation;
  /** Called once per finished invocation (audit log + metrics live in the server). */
  onInvocation?: (rec: InvocationRecord) => void;
  /** The key-value stores (the server's, with its runtime config and metrics); default: embedded ones under dataDir, closed with the orchestrator. */
  kv?: KvStores;
  /**
   * Idle time (ms) after which a function's cells are closed, for functions whose spec has no `idleTimeoutMs`
   * (`isola serve --idle-timeout`). 0: never. Absent: DENSITY_DEFAULTS.idleTimeoutMs (5 minutes).
   */
  idleTimeoutMs?: number;
  /**
   * Jailed cells kept started ahead of need, not yet given to any tenant (`isola serve --spare-cells`).
   * 0: none. Absent: DENSITY_DEFAULTS.spareCells (2).
   */
  spareCells?: number;
  /** Functions the server holds at most; deploying one more is refused (CONFLICT). Absent: DENSITY_DEFAULTS.maxFunctions (10000). */
  maxFunctions?: number;
  /** Distinct tenants the server holds at most; a deploy adding one more is refused (CONFLICT). Absent: DENSITY_DEFAULTS.maxTenants (10000). */
  maxTenants?: number;
}

export interface OrchestratorApi {
  /** Validates and compiles first; only then stores the version (content-addressed) and, if activate (default true), switches to it atomically. */
  deploy(spec: FunctionSpec, bytes: Uint8Array, opts?: { activate?: boolean; onProgress?: (phase: string) => void }): Promise<VersionInfo>;
  activate(name: string, versionId: string): Promise<void>;
  /** Activates the version that was active before the current one. */
  rollback(name: string): Promise<VersionInfo>;
  remove(name: string): Promise<void>;
  list(): FunctionSummary[];
  get(name: string): FunctionSummary | undefined;
  /** Route table: every active function's route → name (the server matches). */
  routes(): Array<{ route: string; name: string }>;
  /** Admission (503 OVERLOADED when concurrency + queue are full), then the executor of the live version. */
  handle(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor>;
  /** Per-function logs: each request's guest stderr (split into lines, bounded) and a line per failed request. */
  readonly logs: FunctionLogsApi;
  /** Stop admitting; wait for in-flight work up to graceMs; close pools. */
  close(graceMs?: number): Promise<void>;
  /** Tenants that have functions, with their cells (absent on orchestrators without shared pools). */
  tenants?(): TenantSummary[];
  /** The warm spares (absent or null: none). */
  spares?(): SpareSummary | null;
}
