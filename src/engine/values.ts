/**
 * Conversion between host values (strings from a command line, JS numbers/bigints from a library
 * caller) and Wasm values, exactly: no silent wrap-around, no silent truncation.
 *   i32: any integer in [-2^31, 2^32); values >= 2^31 are the unsigned reading of the bit pattern.
 *   i64: any integer in [-2^63, 2^64), likewise.
 *   f32/f64: decimals, 0x integers, inf, -inf, nan.
 */
import { IsolaError } from '../errors.js';
import type { ValType } from '../wasm/index.js';

/** Where a value goes, for error messages: `parameter 1 of is_thirteen`. */
export interface ArgPlace { index: number; func: string }
export type HostValue = string | number | bigint | unknown;
export type ArgConverter = (value: HostValue, place: ArgPlace) => unknown;

const TWO_31 = 2n ** 31n;
const TWO_32 = 2n ** 32n;
const TWO_63 = 2n ** 63n;
const TWO_64 = 2n ** 64n;

const placeText = (p: ArgPlace): string => `parameter ${p.index + 1} of ${p.func}`;

function badArg(value: HostValue, type: string, p: ArgPlace, why: string): IsolaError {
  return new IsolaError('BAD_ARGS', `${String(value)} ${why} ${type} (${placeText(p)})`, { parameter: p.index, type });
}

/** Parses an integer literal: decimal or 0x hex, optional sign, `_` separators. null if it is not one. */
export function parseIntegerLiteral(text: string): bigint | null {
  const m = /^([+-]?)(0x[0-9a-f]+(?:_[0-9a-f]+)*|\d+(?:_\d+)*)$/i.exec(text.trim());
  if (!m) return null;
  const n = BigInt(m[2]!.replace(/_/g, ''));
  return m[1] === '-' ? -n : n;
}

function toBigInt(value: HostValue, type: string, p: ArgPlace): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return BigInt(value);
    throw badArg(value, type, p, 'is not an integer, so it cannot be passed as');
  }
  if (typeof value === 'string') {
    const n = parseIntegerLiteral(value);
    if (n !== null) return n;
  }
  throw badArg(value, type, p, 'is not a valid');
}

function toI32(value: HostValue, p: ArgPlace): number {
  // Fast path for what library callers pass most.
  if (typeof value === 'number' && (value | 0) === value) return value;
  const n = toBigInt(value, 'i32', p);
  if (n < -TWO_31 || n >= TWO_32) throw badArg(value, 'i32', p, 'does not fit');
  return Number(BigInt.asIntN(32, n));
}

function toI64(value: HostValue, p: ArgPlace): bigint {
  const n = toBigInt(value, 'i64', p);
  if (n < -TWO_63 || n >= TWO_64) throw badArg(value, 'i64', p, 'does not fit');
  return BigInt.asIntN(64, n);
}

const FLOAT_WORDS: Record<string, number> = {
  inf: Infinity, '+inf': Infinity, infinity: Infinity, '+infinity': Infinity,
  '-inf': -Infinity, '-infinity': -Infinity,
  nan: NaN, '+nan': NaN, '-nan': NaN,
};

/** Parses a float literal: decimal (with exponent), 0x integer, inf/-inf/nan. null if it is not one. */
export function parseFloatLiteral(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t in FLOAT_WORDS) return FLOAT_WORDS[t]!;
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return Number(t);
  const n = parseIntegerLiteral(t);
  return n === null ? null : Number(n);
}

function toFloat(value: HostValue, type: 'f32' | 'f64', p: ArgPlace): number {
  let x: number | null;
  if (typeof value === 'number') x = value;
  else if (typeof value === 'bigint') x = Number(value);
  else if (typeof value === 'string') x = parseFloatLiteral(value);
  else x = null;
  if (x === null) throw badArg(value, type, p, 'is not a valid');
  const r = type === 'f32' ? Math.fround(x) : x;
  if (Number.isFinite(x) && !Number.isFinite(r)) throw badArg(value, type, p, 'does not fit');
  return r;
}

function refOrError(type: string): ArgConverter {
  return (value, p) => {
    if (typeof value === 'string') {
      throw new IsolaError('BAD_ARGS', `${placeText(p)} has type ${type}, which cannot be given as text`, { parameter: p.index, type });
    }
    return value; // a library caller passes the reference itself; V8 checks its type
  };
}

const CONVERTERS: Record<string, ArgConverter> = {
  i32: toI32,
  i64: toI64,
  f32: (v, p) => toFloat(v, 'f32', p),
  f64: (v, p) => toFloat(v, 'f64', p),
};

/** The converter for one parameter type. v128 has no host representation at all. */
export function argConverter(type: ValType): ArgConverter {
  const c = CONVERTERS[type];
  if (c) return c;
  if (type === 'v128') {
    return (_v, p) => {
      throw new IsolaError('BAD_ARGS', `${placeText(p)} has type v128, which cannot be passed from the host`, { parameter: p.index, type });
    };
  }
  return refOrError(type);
}

/** Shortest decimal that reads back as the same f32 (JS prints f64s, so 0.1f32 would print 0.10000000149011612). */
function formatF32(x: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(x);
}

/** One result as text: integers as signed decimal (like wasmtime), floats shortest round-trip, inf/-inf/nan. */
export function formatValue(type: ValType, value: unknown): string {
  if (typeof value === 'number' && (type === 'f32' || type === 'f64')) {
    if (Number.isNaN(value)) return 'nan';
    if (value === Infinity) return 'inf';
    if (value === -Infinity) return '-inf';
    if (Object.is(value, -0)) return '-0';
    return type === 'f32' ? formatF32(value) : String(value);
  }
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (typeof value === 'function') return `<${type}>`;
  return `<${type}>`;
}
