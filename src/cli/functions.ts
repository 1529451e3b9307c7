/** `isola functions [--json]`: every function on the server, its route and versions (active marked). */
import type { FunctionSummary } from '../orchestrator/types.js';
import { formatBytes } from './progress-bar.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

/**
 * hello  /hello
 *   * 3f2a9c01d4e5b6a7  2026-11-21 20:31  1.2 KiB
 *     9b1c0d2e3f4a5b6c  2026-11-21 20:20  1.2 KiB
 */
export function formatFunctions(functions: FunctionSummary[]): string {
  if (functions.length === 0) return 'no functions deployed\n';
  const width = Math.max(...functions.map((f) => f.name.length));
  const lines: string[] = [];
  for (const f of functions) {
    lines.push(`${f.name.padEnd(width)}  ${f.route}${f.active ? '' : '  (no active version)'}`);
    for (const v of f.versions) {
      const when = v.createdAt.slice(0, 16).replace('T', ' ');
      lines.push(`  ${v.id === f.active ? '*' : ' '} ${v.id}  ${when}  ${formatBytes(v.size)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function functionsCommand(flags: ServerFlags & { json?: boolean }): Promise<number> {
  const functions = await adminClientFromFlags(flags).list();
  writeStdout(flags.json ? `${JSON.stringify(functions, null, 2)}\n` : formatFunctions(functions));
  return 0;
}
