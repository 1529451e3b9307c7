// Coalesces concurrent operations on one key into batches run one at a time per key. A backend without a
// server-side atomic add (NATS) increments by an optimistic read-then-conditional-write; 1,000 concurrent
// increments of one key would otherwise make 1,000 writers conflict with each other, each retrying.
// Batched, they cost one read and one write per batch, and only other processes can conflict.

export type Outcome<R> = { value: R } | { error: unknown };

interface Waiter<I, R> {
  item: I;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class KeyedBatches<I, R> {
  private readonly queued = new Map<string, Array<Waiter<I, R>>>();
  private readonly running = new Set<string>();

  /** `flush` handles one batch, in order, and says each item's outcome (it may also reject: all items fail). */
  constructor(private readonly flush: (key: string, items: I[]) => Promise<Array<Outcome<R>>>) {}

  /** Queues `item` for `key`. `cancel()` takes it out of the queue if its batch has not started yet. */
  add(key: string, item: I): { result: Promise<R>; cancel(): void } {
    let waiter!: Waiter<I, R>;
    const result = new Promise<R>((resolve, reject) => { waiter = { item, resolve, reject }; });
    const queue = this.queued.get(key) ?? [];
    queue.push(waiter);
    this.queued.set(key, queue);
    if (!this.running.has(key)) void this.run(key);
    const cancel = (): void => {
      const q = this.queued.get(key);
      const i = q?.indexOf(waiter) ?? -1;
      if (i >= 0) q!.splice(i, 1);
    };
    return { result, cancel };
  }

  private async run(key: string): Promise<void> {
    this.running.add(key);
    try {
      // Let the rest of this event turn queue up first (a Promise.all of increments lands in one batch).
      await new Promise((r) => setImmediate(r));
      for (;;) {
        const batch = this.queued.get(key) ?? [];
        this.queued.delete(key);
        if (batch.length === 0) return;
        let outcomes: Array<Outcome<R>>;
        try {
          outcomes = await this.flush(key, batch.map((w) => w.item));
        } catch (error) {
          outcomes = batch.map(() => ({ error }));
        }
        batch.forEach((w, i) => {
          const o = outcomes[i]!;
          if ('value' in o) w.resolve(o.value);
          else w.reject(o.error);
        });
      }
    } finally {
      this.running.delete(key);
    }
  }
}
