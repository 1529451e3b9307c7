/**
 * Where the agent's entry files are. Both dist/src/cells/*.js and the CLI bundle dist/bundle/cli/isola.js
 * sit three levels below the package root, so one relative URL serves both. The bundled agents
 * (scripts/bundle-cli.mjs) start faster and need no node_modules; a tsc-only build falls back to dist/src.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../../../', import.meta.url);

function pick(bundled: string, unbundled: string): string {
  const b = fileURLToPath(new URL(bundled, root));
  return existsSync(b) ? b : fileURLToPath(new URL(unbundled, root));
}

/** The process cell's agent: one file. */
export const processAgentEntry = (): string => pick('dist/bundle/cells/agent.js', 'dist/src/cells/agent/process-main.js');
export const workerAgentEntry = (): string => pick('dist/bundle/cells/worker.js', 'dist/src/cells/agent/worker-main.js');
