/**
 * Parsers for the human spellings of limits (`64MiB`, `500ms`, `1000000`), shared by the CLI
 * and library users who read limits from their own configuration. All throw IsolaError('USAGE').
 */
import { IsolaError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
};

/** `65536`, `64KiB`, `16M`, `1GiB` → bytes (binary units). Must be a positive whole number of bytes. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new IsolaError('USAGE', `invalid ${what} '${text}' (expected bytes, optionally with a KiB, MiB or GiB suffix, e.g. 64MiB)`);
  }
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new IsolaError('USAGE', `invalid ${what} '${text}' (must be a whole number of bytes greater than 0)`);
  }
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `2s`, `1.5s`, `1m`, `1h` → milliseconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(text);
  if (!m) throw new IsolaError('USAGE', `invalid ${what} '${text}' (expected a number with a unit: 500ms, 2s, 1m)`);
  const ms = Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2 ** 31) {
    throw new IsolaError('USAGE', `invalid ${what} '${text}' (must be greater than 0 and at most ~24 days)`);
  }
  return ms;
}

/** A duration that may be zero: `0` (bare, the one number without a unit), `0s`, or a duration as parseDuration. */
export function parseDurationOrZero(text: string, what = 'duration'): number {
  if (/^\s*0+(?:\.0*)?\s*(ms|s|m|h)?\s*$/i.test(text)) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(text);
  if (!m) throw new IsolaError('USAGE', `invalid ${what} '${text}' (expected 0 or a number with a unit: 500ms, 2s, 5m)`);
  return parseDuration(text, what);
}

/** A fuel budget: a whole number (0 allowed) (decimal or 0x hex, `_` separators allowed) up to 2^63-1. */
export function parseFuel(text: string): bigint {
  const t = text.trim().replace(/_/g, '');
  if (!/^(\d+|0x[0-9a-f]+)$/i.test(t)) {
    throw new IsolaError('USAGE', `invalid fuel '${text}' (expected a whole number of instructions, e.g. 1000000)`);
  }
  const n = BigInt(t);
  if (n >= 2n ** 63n) throw new IsolaError('USAGE', `invalid fuel '${text}' (must be at most 2^63-1)`);
  return n;
}

/** A count (e.g. table elements): a whole number >= 0, `_` separators allowed, at most 2^53-1. */
export function parseCount(text: string, what = 'count'): number {
  const t = text.trim().replace(/_/g, '');
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new IsolaError('USAGE', `invalid ${what} '${text}' (expected a whole number, e.g. 10000)`);
  return n;
}

/** `500` → `500ms`, `2000` → `2s`, `60000` → `1m`: how limits are echoed back in messages. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A byte count as a limit is written: `16 MiB`, `1 KiB`, `100 bytes`. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} bytes`;
}
