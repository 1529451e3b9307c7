/**
 * Joining a cluster: connect to NATS with the configured credentials, open (or create) the cluster's bucket
 * and object store, check the format, catch up, then follow. Every failure is one line naming the cluster URL
 * (credentials never shown) and nothing is left open.
 */
import { readFileSync } from 'node:fs';
import { IsolaError } from '../errors.js';
import { isolaVersion } from '../engine/version.js';
import { closeQuietly, connectNats } from '../capabilities/keyvalue/host/backends/nats-connect.js';
import { redactUrl } from '../capabilities/keyvalue/host/backends/redact.js';
import { ClusterNode } from './node.js';
import { nodeIdFor } from './node-id.js';
import { ClusterState } from './state.js';
import { clusterNames } from './subjects.js';
import type { ClusterConfig, ClusterJoinContext, JoinCluster, LocalOrchestrator } from './types.js';
import type { OrchestratorApi } from '../orchestrator/types.js';

/** What the server gives a node when it joins (the orchestrator's contract with the server). */
export type JoinOptions = ClusterJoinContext;

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

function nkeySeed(file: string | undefined): Uint8Array | undefined {
  if (file === undefined) return undefined;
  try {
    const seed = readFileSync(file, 'utf8').trim();
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) throw new IsolaError('USAGE', `${file} does not hold a user nkey seed (SU…)`);
    return new TextEncoder().encode(seed);
  } catch (e) {
    if (e instanceof IsolaError) throw e;
    throw new IsolaError('IO', `cannot read the nkey seed file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The server's hook (`startServer({ cluster })`) that joins the cluster `config` names. */
export function clusterJoiner(config: ClusterConfig): JoinCluster {
  return (local, ctx) => joinCluster(local, config, ctx);
}

export async function joinCluster(orchestrator: OrchestratorApi, config: ClusterConfig, o: JoinOptions): Promise<ClusterNode> {
  if (typeof (orchestrator as Partial<LocalOrchestrator>).prepare !== 'function') throw new IsolaError('USAGE', 'a cluster node needs the real orchestrator');
  const local = orchestrator as LocalOrchestrator;
  const where = `the cluster "${config.name}" at ${config.url.split(',').map((u) => redactUrl(u.trim())).join(',')}`;
  const node = nodeIdFor(o.dataDir, config.nodeId);
  const seed = nkeySeed(config.nkeySeedFile);
  let nc;
  try {
    nc = await connectNats({
      servers: config.url,
      name: `isola ${node}`,
      connectTimeoutMs: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      ...(config.user !== undefined ? { user: config.user, pass: config.password ?? '' } : {}),
      ...(config.token !== undefined ? { token: config.token } : {}),
      ...(seed !== undefined ? { nkeySeed: seed } : {}),
      ...(config.tls !== undefined ? { tls: config.tls } : {}),
    });
  } catch (e) {
    throw new IsolaError('UNAVAILABLE', `cannot join ${where}: ${(e as Error).message}`);
  }
  try {
    const names = clusterNames(config.name);
    const state = await ClusterState.open(nc, names, `isola ${isolaVersion()}`);
    const member = new ClusterNode(local, nc, state, names, { cluster: config.name, node, isola: isolaVersion(), logger: o.logger, urls: o.urls, changed: o.changed, ...(o.admit ? { admit: o.admit } : {}) });
    await member.start();
    o.logger.info({ cluster: config.name, node }, 'joined the cluster');
    return member;
  } catch (e) {
    await closeQuietly(nc);
    if (e instanceof IsolaError) throw new IsolaError(e.code, `cannot join ${where}: ${e.message}`, e.detail);
    throw e;
  }
}
