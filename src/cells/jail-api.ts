/**
 * The jail's interface as the process driver uses it (src/cells/jail/index.ts implements it). Until
 * that module exists the driver launches a plain `node agent.js` (see spawn.ts: planLaunch).
 */
import type { Preopen } from '../capabilities/wasi-p1/index.js';

export interface JailRequest {
  agentEntry: string;
  nodeArgs: string[];
  preopens: Preopen[];
  memoryLimitBytes: number;
  maxOpenFiles: number;
  noNodePermissions?: boolean;
}

export interface JailLaunch {
  kind: 'bwrap' | 'unshare' | 'none';
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Bytes to write into a pipe at child fd N (N >= 4), then close it. */
  fdData: Map<number, Uint8Array>;
  /** Call after the child exits. */
  cleanup(): void;
}

export interface JailModule {
  jailSupport(): { process: boolean; tool: 'bwrap' | 'unshare' | null; reasons: string[] };
  planJail(req: JailRequest): JailLaunch;
}
