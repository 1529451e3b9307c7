/**
 * What the server sees of a cluster node (src/cluster/ implements it; the CLI joins one and hands it to the
 * server): its heartbeats and status, logs from every node, and the hook that turns a local orchestrator into a
 * node. Kept here, below both, so the server never imports the cluster layer and the cluster never the server.
 */
import type { Logger } from 'pino';
import type { FunctionSpec, LogQuery, LogRecord, OrchestratorApi } from './types.js';

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

/** What the admin API asks of the cluster (GET /admin/cluster, logs from every node). */
export interface ClusterAdminApi {
  /** The cluster's name, this node's id, and every node this node knows of (itself included), with versions of those that answered. */
  status(): Promise<{ cluster: string; node: string; nodes: NodeStatus[] }>;
  /** A function's log records from every node that answers within a second, merged by time (tail applied after merging). */
  logs(name: string, query: LogQuery): Promise<NodeLogRecord[]>;
}

/** A node of a cluster as the server runs it: the orchestrator it serves through, and what it says of the cluster. */
export interface ClusterMember extends OrchestratorApi {
  /** This node's id, and its cluster's name. */
  readonly node: string;
  readonly cluster: string;
  readonly admin: ClusterAdminApi;
  /** Every node this one knows of, from heartbeats alone (no network). */
  nodes(): NodeStatus[];
  /** Requests forwarded to other nodes, and taken from them, since start. */
  forwardStats(): { sent: Record<string, number>; served: Record<string, number> };
}

/** What the server gives a node when it joins (before it listens). */
export interface ClusterJoinContext {
  dataDir: string;
  logger: Logger;
  /** Where this server serves HTTP and its admin API (known once it listens). */
  urls: () => { url: string; adminUrl: string };
  /** A function's route or version changed here (the server updates its router). */
  changed: (name: string) => void;
  /** This server's grant policy for versions that come from the cluster: throws to refuse. */
  admit?: (spec: FunctionSpec) => void;
}

/** Turns the server's local orchestrator into a node of a cluster (src/cluster's joinCluster, with its settings). */
export type JoinCluster = (local: OrchestratorApi, ctx: ClusterJoinContext) => Promise<ClusterMember>;
