// bench:density's one table: scenario | figure | target | ok?. The verdicts mean what they mean in the other
// benches' tables (bench/table.ts): yes, NO, '-' (reported, or a quick run that cannot decide), ?? (could not
// be measured).
import type { Row } from '../table.js';

export interface DensityRow {
  scenario: string;
  figure: string;
  target: string;
  ok: Row['ok'];
}

export const verdict = (ok: DensityRow['ok']): string => (ok === null ? '??' : ok === true ? 'yes' : ok === false ? 'NO' : ok);

/** A row for a scenario that could not be measured: the reason on one line. */
export function failed(scenario: string, target: string, err: unknown): DensityRow {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 240);
  return { scenario, figure: `failed: ${reason}`, target, ok: null };
}

export function formatDensityTable(rows: readonly DensityRow[]): string {
  const header = ['scenario', 'figure', 'target', 'ok?'];
  const cells = rows.map((r) => [r.scenario, r.figure, r.target, verdict(r.ok)].map((s) => s.replace(/\|/g, '\\|')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
