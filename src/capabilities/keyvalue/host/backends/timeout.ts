// Every backend call is bounded: a store that is down, slow or answering garbage must cost a caller at most
// opTimeoutMs, never a hang. One helper, so every backend words the failure the same way.
import { KvBackendError, type BackendOptions } from './types.js';

export const DEFAULT_OP_TIMEOUT_MS = 5000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** The options with their defaults filled in. */
export function timeouts(options: BackendOptions = {}): Required<BackendOptions> {
  return {
    opTimeoutMs: options.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  };
}

/** `work`, or KvBackendError('unavailable') naming `what` if it has not settled within `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KvBackendError('unavailable', `${what}: no answer within ${ms} ms`)), ms);
  });
  // The loser of the race may still settle later: mark it handled so it cannot crash the process.
  work.catch(() => {});
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** An error's message on one line (driver errors sometimes carry several). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').trim() || (err instanceof Error ? err.name : 'unknown error');
}
