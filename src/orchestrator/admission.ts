/**
 * Admission for one function: at most maxConcurrency invocations run, at most maxQueue wait (FIFO);
 * beyond that a request is refused at once with OVERLOADED (the server answers 503 + retry-after)
 * instead of piling up. Limits are read at each admission, so a new version's limits apply at once.
 */
import { IsolaError } from '../errors.js';

interface Waiter {
  admit: () => void;
  fail: (e: Error) => void;
}

export interface AdmissionLimits {
  maxConcurrency: number;
  maxQueue: number;
}

export class Admission {
  running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly name: string, private readonly limits: () => AdmissionLimits) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves when the caller may run; call release() exactly once afterwards. */
  acquire(signal?: AbortSignal): Promise<void> {
    const { maxConcurrency, maxQueue } = this.limits();
    if (this.running < maxConcurrency && this.waiting.length === 0) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= maxQueue) {
      return Promise.reject(new IsolaError('OVERLOADED', `function ${this.name} is overloaded (${maxConcurrency} running, ${maxQueue} waiting)`));
    }
    if (signal?.aborted) return Promise.reject(new IsolaError('CANCELLED', 'request cancelled while waiting'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new IsolaError('CANCELLED', 'request cancelled while waiting'));
      };
      const waiter: Waiter = {
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(): void {
    this.running--;
    const { maxConcurrency } = this.limits();
    while (this.running < maxConcurrency && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!.admit();
    }
  }

  /** Fails every waiting request with `e` (shutdown, removal). */
  rejectWaiting(e: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(e);
  }
}
