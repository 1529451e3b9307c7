/**
 * The shapes the cluster's parts share: a node's view of its local functions (what forwarding and status
 * read), the records kept in JetStream, and what a node says about itself.
 */
import type {
  FunctionSpec, HttpRequestDescriptor, HttpResponseDescriptor, LogQuery, LogRecord, OrchestratorApi, VersionInfo,
} from '../orchestrator/types.js';

/** `[cluster]` of isola.toml, or `isola serve --cluster URL` (the flags win). */
export interface ClusterConfig {
  /** nats://host:port (comma-separated for several servers), or tls://. */
  url: string;
  /** Names the subjects and buckets (isola.<name>.…, isola_<name>_functions): several clusters may share one NATS. Default "default". */
  name: string;
  /** This node's id, [a-z0-9-]{1,63}; default: kept in <dataDir>/node-id, made from the host name once. */
  nodeId?: string;
  user?: string;
  password?: string;
  token?: string;
  /** A file holding an nkey seed (SU…): the node signs the server's nonce with it. */
  nkeySeedFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How long a start waits for NATS before failing (ms, default 5000). */
  connectTimeoutMs?: number;
}

/** How busy one function is on this node: forwarding runs a request elsewhere when running >= maxConcurrency. */
export interface FunctionLoad {
  running: number;
  queued: number;
  maxConcurrency: number;
  /** The live version's max-body: a forwarded whole body above it is refused before it travels on. */
  maxBodyBytes?: number;
}

/** What forwarding needs from the node it runs on (the local orchestrator). */
export interface LocalRunner {
  /** The function's load here; undefined when this node has no live version of it. */
  load(name: string): FunctionLoad | undefined;
  /** Runs the request here (admission, then the live version): the orchestrator's handle(). */
  handle(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor>;
}

/** One function as the cluster keeps it (the value of `fn.<name>` in the functions bucket). */
export interface FunctionRecord {
  format: number;
  name: string;
  /** The version every node serves; null: stored, none active. */
  active: string | null;
  /** Earlier actives, oldest first (rollback pops the last). */
  history: string[];
  /** Every version, newest first; module bytes are in the object store under `moduleSha256`. */
  versions: VersionInfo[];
  /** Which node wrote this record, and when (its clock: informative only, never compared). */
  updatedBy: string;
  updatedAt: string;
}

/** A node's heartbeat (every second on isola.<cluster>.heartbeat). */
export interface Heartbeat {
  node: string;
  /** Where it serves HTTP, and its admin API. */
  url: string;
  adminUrl: string;
  isola: string;
  startedAt: string;
  /** The sender's clock when sent: compared to the receiver's only to report skew. */
  sentAt: string;
  /** Requests running and waiting on this node, all functions. */
  inflight: number;
  queued: number;
  /** Live functions here, and a digest of (name, version) pairs: equal digests, same versions. */
  functions: number;
  versionsDigest: string;
  /** False while it catches up after a (re)connection. */
  ready: boolean;
}

/** One node in `isola cluster status`: its last heartbeat, as seen by the node answering. */
export interface NodeStatus extends Heartbeat {
  /** The answering node's clock when the last heartbeat arrived (ms since the epoch); liveness never reads sentAt. */
  lastSeenMs: number;
  /** 'up': heard within the last 3 s; 'gone': not since (kept listed a while, then forgotten); 'left': said goodbye. */
  state: 'up' | 'gone' | 'left';
  /** sentAt minus arrival time (ms): how far its clock is from this node's (network delay included). */
  skewMs: number;
  /** This node itself. */
  self: boolean;
  /** Its live versions (name → id), when it answered a status request in time; absent otherwise. */
  versions?: Record<string, string>;
}

/** A log record from some node (`isola logs NAME` in a cluster reads them all). */
export interface NodeLogRecord extends LogRecord {
  node: string;
}

export type { LogQuery };

/** What the admin API asks of the cluster (GET /admin/cluster, logs from every node). */
export interface ClusterAdminApi {
  /** The cluster's name, this node's id, and every node this node knows of (itself included), with versions of those that answered. */
  status(): Promise<{ cluster: string; node: string; nodes: NodeStatus[] }>;
  /** A function's log records from every node that answers within a second, merged by time (tail applied after merging). */
  logs(name: string, query: LogQuery): Promise<NodeLogRecord[]>;
}

/** The local orchestrator as a cluster node drives it: the library's API plus what deploys and forwarding read. */
export interface LocalOrchestrator extends OrchestratorApi {
  prepare(spec: FunctionSpec, bytes: Uint8Array): Promise<VersionInfo>;
  hasVersion(name: string, id: string): boolean;
  load(name: string): FunctionLoad | undefined;
  loadTotals(): { running: number; queued: number };
}
