// Table caps: how many elements each table of an instance may reach. V8 keeps tables on its JS heap,
// where running out is fatal to the whole process (not a failed table.grow), so every table is
// bounded three ways: per table, all tables of an instance together, and — counted in bytes — by the
// memory limit. The rewriter lowers each declared maximum to its cap, so growth past it fails as the
// spec says (table.grow returns -1), and a table whose initial size is already too big is refused.
import { IsolaError } from '../errors.js';

/** One table, as inspect() describes it (imported tables first, then defined ones). */
export interface TableDecl {
  initial: number;
  maximum: number | null;
  elemType: string;
}

export interface TableLimitOptions {
  /** Elements per table. */
  maxTableElements?: number;
  /** Elements of all tables of an instance together. */
  maxTotalTableElements?: number;
  /** The memory limit: tables together take at most this many bytes (elementBytes each). */
  maxMemoryBytes?: number;
}

/** The table-size limit of the binary format (table32); V8's own limit (10,000,000) is lower still. */
export const MAX_TABLE32_ELEMENTS = 0xffff_ffff;

/**
 * Host bytes one element costs in V8 (measured on Node 20 and 26 by growing 10 tables by 1,000,000):
 * a tagged pointer (8 bytes); a funcref table also keeps a dispatch entry (signature, target, instance),
 * 15-23 bytes an element in all, so funcref is charged 24.
 */
export function elementBytes(elemType: string): number {
  return elemType === 'funcref' || elemType.startsWith('(ref') ? 24 : 8;
}

/** True when no table limit is asked (instrument() without table options or a memory limit). */
export function noTableLimits(o: TableLimitOptions): boolean {
  return o.maxTableElements === undefined && o.maxTotalTableElements === undefined && o.maxMemoryBytes === undefined;
}

function checkCount(v: number | undefined, what: string): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new IsolaError('USAGE', `${what} must be a whole number >= 0, got ${v}`);
}

const tooBig = (what: string, detail: Record<string, unknown>): IsolaError => new IsolaError('MEMORY_LIMIT', what, detail);

/**
 * The maximum each table may reach (same order as `tables`), or null when no table limit applies.
 * Growth room beyond the initial sizes is shared out evenly (a table that needs less leaves the rest
 * to the others), so together the tables stay within the total and the memory limit.
 * Throws MEMORY_LIMIT when the initial sizes alone are above a limit.
 */
export function tableCaps(tables: readonly TableDecl[], o: TableLimitOptions): number[] | null {
  checkCount(o.maxTableElements, 'maxTableElements');
  checkCount(o.maxTotalTableElements, 'maxTotalTableElements');
  if (noTableLimits(o) || tables.length === 0) return null;
  const perTable = Math.min(o.maxTableElements ?? MAX_TABLE32_ELEMENTS, MAX_TABLE32_ELEMENTS);
  let total = o.maxTotalTableElements ?? Infinity;
  let bytes = o.maxMemoryBytes ?? Infinity;
  const needs = tables.map((t, index) => {
    if (t.initial > perTable) {
      throw tooBig(`table ${index} starts at ${t.initial} elements, above the cap of ${perTable} elements`,
        { index, initial: t.initial, capElements: perTable });
    }
    total -= t.initial;
    bytes -= t.initial * elementBytes(t.elemType);
    return Math.min(t.maximum ?? perTable, perTable) - t.initial;
  });
  const initial = tables.reduce((n, t) => n + t.initial, 0);
  if (total < 0) {
    throw tooBig(`the tables start at ${initial} elements in all, above the cap of ${o.maxTotalTableElements} elements for all tables of an instance`,
      { initial, capElements: o.maxTotalTableElements });
  }
  if (bytes < 0) {
    throw tooBig(`the tables start at ${initial} elements (${(o.maxMemoryBytes ?? 0) - bytes} bytes) in all, above the memory limit of ${o.maxMemoryBytes} bytes`,
      { initial, maxMemoryBytes: o.maxMemoryBytes });
  }
  // The largest even share `level` of growth room that both budgets allow (binary search: tables are few).
  const fits = (level: number): boolean => {
    let n = 0;
    let b = 0;
    tables.forEach((t, i) => {
      const g = Math.min(needs[i]!, level);
      n += g;
      b += g * elementBytes(t.elemType);
    });
    return n <= total && b <= bytes;
  };
  let lo = 0;
  let hi = needs.reduce((a, b) => Math.max(a, b), 0);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return tables.map((t, i) => t.initial + Math.min(needs[i]!, lo));
}

/** True when every table's declared maximum is already within its cap (no rewrite needed for tables). */
export function tablesWithinCaps(tables: readonly TableDecl[], o: TableLimitOptions): boolean {
  const caps = tableCaps(tables, o);
  return caps === null || tables.every((t, i) => t.maximum !== null && t.maximum <= caps[i]!);
}
