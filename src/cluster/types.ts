/**
 * The shapes the cluster's parts share: a node's view of its local functions (what forwarding and status
 * read), the records kept in JetStream, and what a node says about itself.
 */
import type {
  FunctionSpec, HttpRequestDescriptor, HttpResponseDescriptor, LogQuery, OrchestratorApi, VersionInfo,
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

/** The same, with what a node reads to let a request wait for room in the cluster: how many may, and how long. */
export interface NodeLoad extends FunctionLoad {
  maxQueue: number;
  timeoutMs: number;
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

// What the server sees of a node (heartbeats, status, logs from every node, the join hook) is the orchestrator's
// contract with the server, so the server never imports this layer: src/orchestrator/cluster-api.ts.
export type { ClusterAdminApi, ClusterJoinContext, ClusterMember, Heartbeat, JoinCluster, NodeLogRecord, NodeStatus } from '../orchestrator/cluster-api.js';
export type { LogQuery };

/** The local orchestrator as a cluster node drives it: the library's API plus what deploys and forwarding read. */
export interface LocalOrchestrator extends OrchestratorApi {
  prepare(spec: FunctionSpec, bytes: Uint8Array): Promise<VersionInfo>;
  hasVersion(name: string, id: string): boolean;
  load(name: string): NodeLoad | undefined;
  loadTotals(): { running: number; queued: number };
}
