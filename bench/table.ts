// The one table `npm run bench` prints.
import { median } from './stats.js';

/** The figure a row's target is judged on, so that rounds can be combined into a range and a verdict. */
export interface Judged {
  value: number;
  op: '<=' | '>=' | '<';
  limit: number;
  /** How to print the figure (a ratio, a time, a rate). */
  fmt: (x: number) => string;
}

export const meets = (j: Judged, x: number): boolean => (j.op === '<=' ? x <= j.limit : j.op === '<' ? x < j.limit : x >= j.limit);

/** A judged figure, and the row fields it decides (`ok`). */
export function judged(value: number, op: Judged['op'], limit: number, fmt: (x: number) => string): { judged: Judged; ok: boolean } {
  const j = { value, op, limit, fmt };
  return { judged: j, ok: meets(j, value) };
}

export interface Row {
  metric: string;
  isola: string;
  baseline: string;
  /** isola's cost divided by the baseline's (lower is better), or '' when not meaningful. */
  ratio: string;
  target: string;
  /**
   * null: could not be measured; 'noise': the rounds' range straddles the target (neither met nor missed);
   * '-': no verdict (a figure reported for scale, or a quick run, whose short windows cannot decide).
   */
  ok: boolean | null | 'noise' | '-';
  /** Set by rows with a target: what it is judged on (see bench/run.ts, which repeats rounds). */
  judged?: Judged;
}

/**
 * The verdict on a figure measured in several rounds: yes when every round meets the target, NO when none
 * does, 'noise' when some do. No verdict ('-') when `decide` is false (a quick run).
 */
export function verdictOf(values: readonly number[], ok: (x: number) => boolean, decide: boolean): Row['ok'] {
  if (!decide) return '-';
  if (values.every(ok)) return true;
  if (!values.some(ok)) return false;
  return 'noise';
}

/** "median (min–max)" of a figure over rounds. */
export function fmtRange(values: readonly number[], fmt: (x: number) => string): string {
  const mid = median(values);
  return values.length === 1 ? fmt(mid) : `${fmt(mid)} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** A run fails on a row that missed its target or could not be measured; noise and reported figures do not. */
export const rowFailed = (r: Row): boolean => r.ok === false || r.ok === null;

export const fmtRatio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');

/** 1234 -> "1.23 µs"; picks ns, µs, ms or s. */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${ns.toFixed(0)} ns`;
  if (abs < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (abs < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** A row for a benchmark that failed to run, so the table still prints. */
export function failedRow(metric: string, target: string, err: unknown): Row {
  const reason = err instanceof Error ? err.message : String(err);
  return { metric, isola: `failed: ${reason.split('\n')[0]!.slice(0, 90)}`, baseline: '', ratio: '', target, ok: null };
}

export function formatTable(rows: readonly Row[]): string {
  const header = ['metric', 'isola', 'baseline', 'ratio', 'target', 'ok?'];
  const cells = rows.map((r) => [r.metric, r.isola, r.baseline, r.ratio, r.target, r.ok === null ? '??' : r.ok === true ? 'yes' : r.ok === false ? 'NO' : r.ok]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export interface BenchOptions {
  /** `npm run bench -- --quick`: fewer iterations, same rows. */
  quick: boolean;
}
export type Benchmark = (opts: BenchOptions) => Promise<Row[]>;
