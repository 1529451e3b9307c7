// Counters are the value's decimal text, as Redis's INCRBY keeps them, so every backend reads the others'
// counters. Backends that add in the host (embedded, NATS) parse and check exactly as Redis does.
import { KvBackendError } from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
// Redis's string2ll: no sign but '-', no leading zero, no spaces.
const DECIMAL = /^(0|-?[1-9][0-9]{0,19})$/;
const inRange = (n: bigint): boolean => n >= INT64_MIN && n <= INT64_MAX;

/** The counter stored as `value` (null: absent, 0), or KvBackendError('invalid'). */
export function parseCounter(key: string, value: Uint8Array | null): bigint {
  if (value === null) return 0n;
  const text = Buffer.from(value).toString('latin1');
  if (!DECIMAL.test(text) || !inRange(BigInt(text))) {
    throw new KvBackendError('invalid', `the value of ${JSON.stringify(key)} is not an integer counter`);
  }
  return BigInt(text);
}

/** `counter + delta`, or KvBackendError('invalid') past the signed 64-bit range. */
export function addChecked(key: string, counter: bigint, delta: bigint): bigint {
  const sum = counter + delta;
  if (!inRange(delta) || !inRange(sum)) throw new KvBackendError('invalid', `incrementing ${JSON.stringify(key)} would overflow 64 bits`);
  return sum;
}

export const counterBytes = (n: bigint): Uint8Array => Buffer.from(n.toString(), 'latin1');
