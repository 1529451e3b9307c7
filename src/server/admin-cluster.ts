/**
 * `GET /admin/cluster`: the cluster's name, the answering node's id, and every node it knows of
 * (NodeStatus, from heartbeats, with the versions of those that answered a status request in time).
 * A server not in a cluster answers 404 with one line saying so.
 */
import { IsolaError } from '../errors.js';
import type { ClusterAdminApi } from '../orchestrator/cluster-api.js';

export const NOT_IN_CLUSTER = 'this server is not in a cluster';

/** The operation for `/admin/cluster`, or the methods allowed when `method` is not one of them. */
export function clusterAdminOperation(cluster: ClusterAdminApi | undefined, method: string): { operation: string; run: () => Promise<[number, unknown]> } | string {
  if (method !== 'GET') return 'GET';
  return {
    operation: 'cluster',
    run: async () => {
      if (!cluster) throw new IsolaError('NOT_FOUND', NOT_IN_CLUSTER);
      return [200, await cluster.status()];
    },
  };
}
