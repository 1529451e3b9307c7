/**
 * Every NATS name the cluster uses, from the cluster's name: one home, so nodes of one version agree.
 * Function names ([a-z0-9-]) and node ids (the same rule) are valid subject tokens and KV keys as they are.
 */
import { FUNCTION_NAME } from '../orchestrator/function-name.js';

export interface ClusterNames {
  /** The KV bucket of function records (`fn.<name>`) and the format marker (`meta`). */
  functionsBucket: string;
  /** The object store of module bytes, one object per sha256 (hex). */
  modulesStore: string;
  /** Requests forwarded to a function: nodes that serve it subscribe in the queue group `invokeQueue`. */
  invoke(fn: string): string;
  invokeQueue: string;
  /** Heartbeats (every node publishes and listens). */
  heartbeat: string;
  /** Status requests: every node answers with its versions (request-many). */
  status: string;
  /** Log reads: every node answers with its records of a function (request-many). */
  logs: string;
}

/** Node ids follow the function-name rule: valid subject tokens and KV keys as they are. */
export const NODE_ID = FUNCTION_NAME;

/** A cluster name: letters, digits, - and _ (it becomes part of bucket names). */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function clusterNames(cluster: string): ClusterNames {
  const prefix = `isola.${cluster}`;
  return {
    functionsBucket: `isola_${cluster}_functions`,
    modulesStore: `isola_${cluster}_modules`,
    invoke: (fn) => `${prefix}.invoke.${fn}`,
    invokeQueue: `${prefix}.invoke`,
    heartbeat: `${prefix}.heartbeat`,
    status: `${prefix}.status`,
    logs: `${prefix}.logs`,
  };
}
