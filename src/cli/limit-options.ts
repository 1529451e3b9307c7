/**
 * `--fuel N`, `--max-memory SIZE`, `--max-table-elements N`, `--timeout DUR` and their wasmtime spellings
 * `-W fuel=N,max-memory-size=BYTES,max-table-elements=N,timeout=DUR` → engine Limits.
 */
import { IsolaError } from '../errors.js';
import type { Limits } from '../engine/limits.js';
import { parseCount, parseDuration, parseFuel, parseSize } from '../engine/units.js';

export interface LimitFlags {
  fuel?: string;
  maxMemory?: string;
  maxTableElements?: string;
  timeout?: string;
  W?: string[];
}

const W_KEYS: Record<string, keyof Omit<LimitFlags, 'W'>> = {
  fuel: 'fuel',
  'max-memory-size': 'maxMemory',
  'max-table-elements': 'maxTableElements',
  timeout: 'timeout',
};

/** Folds -W pairs into the long flags; the same limit given twice (differently) is a usage error. */
function mergeW(flags: LimitFlags): Omit<LimitFlags, 'W'> {
  const out: Omit<LimitFlags, 'W'> = { fuel: flags.fuel, maxMemory: flags.maxMemory, maxTableElements: flags.maxTableElements, timeout: flags.timeout };
  for (const pair of (flags.W ?? []).flatMap((w) => w.split(','))) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const field = W_KEYS[key];
    if (!field) {
      throw new IsolaError('USAGE', `unknown -W option '${key}' (isola supports ${Object.keys(W_KEYS).map((k) => `${k}=…`).join(', ')})`);
    }
    if (eq < 0) throw new IsolaError('USAGE', `-W ${key} needs a value (-W ${key}=…)`);
    const value = pair.slice(eq + 1);
    if (out[field] !== undefined && out[field] !== value) {
      throw new IsolaError('USAGE', `-W ${key}=${value} conflicts with ${out[field]} given earlier`);
    }
    out[field] = value;
  }
  return out;
}

export function limitsFromFlags(flags: LimitFlags): Limits {
  const f = mergeW(flags);
  const limits: Limits = {};
  if (f.fuel !== undefined) limits.fuel = parseFuel(f.fuel);
  if (f.maxMemory !== undefined) limits.maxMemoryBytes = parseSize(f.maxMemory, 'memory limit');
  if (f.maxTableElements !== undefined) limits.maxTableElements = parseCount(f.maxTableElements, 'table element limit');
  if (f.timeout !== undefined) limits.timeoutMs = parseDuration(f.timeout, 'timeout');
  return limits;
}
