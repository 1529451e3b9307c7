/** `isola functions [--json]`: every function on the server, its route, tenant and versions (active marked), then the tenants' cells. */
import type { FunctionSummary, SpareSummary, TenantSummary } from '../orchestrator/types.js';
import { formatBytes } from './progress-bar.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

/**
 * hello  /hello  (tenant acme)
 *   * 3f2a9c01d4e5b6a7  2026-11-21 20:31  1.2 KiB
 *     9b1c0d2e3f4a5b6c  2026-11-21 20:20  1.2 KiB
 * A function's tenant is shown when it is not the function itself.
 */
export function formatFunctions(functions: FunctionSummary[]): string {
  if (functions.length === 0) return 'no functions deployed\n';
  const width = Math.max(...functions.map((f) => f.name.length));
  const lines: string[] = [];
  for (const f of functions) {
    const tenant = f.tenant !== undefined && f.tenant !== f.name ? `  (tenant ${f.tenant})` : '';
    lines.push(`${f.name.padEnd(width)}  ${f.route}${f.active ? '' : '  (no active version)'}${tenant}`);
    for (const v of f.versions) {
      const when = v.createdAt.slice(0, 16).replace('T', ' ');
      lines.push(`  ${v.id === f.active ? '*' : ' '} ${v.id}  ${when}  ${formatBytes(v.size)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * TENANT  FUNCTIONS  CELLS  LOADED  COLD STARTS  SCALED DOWN
 * acme            3      1       3            5            2
 * spare cells: 2 ready of 2 (7 taken, 0 missed)
 */
export function formatTenants(tenants: TenantSummary[], spares: SpareSummary | null): string {
  if (tenants.length === 0) return '';
  const head = ['TENANT', 'FUNCTIONS', 'CELLS', 'LOADED', 'COLD STARTS', 'SCALED DOWN'];
  const rows = tenants.map((t) => [t.tenant, t.functions, t.cells, t.modulesLoaded, t.coldStarts, t.scaledDown].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), ...rows.map(line)];
  if (spares) out.push(`spare cells: ${spares.ready} ready of ${spares.wanted} (${spares.taken} taken, ${spares.missed} missed)`);
  return `\n${out.join('\n')}\n`;
}

export async function functionsCommand(flags: ServerFlags & { json?: boolean }): Promise<number> {
  const client = adminClientFromFlags(flags);
  const [functions, { tenants, spares }] = await Promise.all([client.list(), client.tenants()]);
  writeStdout(flags.json ? `${JSON.stringify(functions, null, 2)}\n` : formatFunctions(functions) + formatTenants(tenants, spares));
  return 0;
}
