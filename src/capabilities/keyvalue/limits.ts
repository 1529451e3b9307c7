/** Key-value limits: per store (its config) and per request (the function's `max-kv-calls`). */

export interface StoreLimits {
  /** Longest key in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value. */
  maxValueBytes: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxKeyBytes: 256, maxValueBytes: 1024 * 1024 };

/** Store calls one request may make (a batch call is one call). */
export const DEFAULT_MAX_KV_CALLS = 1000;
/** Keys in one batch call, and in one page of a listing. */
export const MAX_BATCH_KEYS = 1000;
export const LIST_PAGE_KEYS = 1000;
/** The largest request a cell may assemble from pieces (a set-many of large values). */
export const MAX_KV_REQUEST_BYTES = 16 * 1024 * 1024;
/** The embedded store's default quota. */
export const DEFAULT_EMBEDDED_QUOTA = 1024 ** 3;

/** A store's name: what guests open and grants list (and an embedded store's file name). */
export const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function storeNameProblem(name: string): string | null {
  return STORE_NAME.test(name) ? null : 'expected a store name of 1 to 64 letters, digits, "_", "-" and ".", starting with a letter or digit';
}

/** Why a guest cannot open `name`: the one wording of the cell's answer and the host's. */
export const noSuchStore = (name: string): string => `no store is named ${JSON.stringify(name.slice(0, 80))}`;
export const notGranted = (name: string): string => `the function was not granted the store "${name}"`;
