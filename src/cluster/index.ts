// src/cluster: `isola serve --cluster` — a node of a cluster over NATS JetStream (README.md in this folder).
export { joinCluster, clusterJoiner, type JoinOptions } from './join.js';
export { ClusterNode } from './node.js';
export { loadClusterConfig, checkClusterConfig, clusterSettings } from './config.js';
export { clusterNames, type ClusterNames } from './subjects.js';
export { CLUSTER_FORMAT } from './state.js';
export type {
  ClusterConfig, ClusterAdminApi, ClusterMember, JoinCluster, FunctionRecord, Heartbeat, NodeStatus, NodeLogRecord, LocalOrchestrator,
} from './types.js';
