/**
 * A response body that arrives while it is being sent: the producer pushes chunks (a cell's output as the guest
 * writes it), the consumer iterates. Once the consumer has stopped (the client went away), pushed chunks are
 * dropped, so nothing piles up behind a gone client.
 */
export class BodyQueue implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private failure: { e: unknown } | null = null;
  private wake: (() => void) | null = null;
  private stopped = false;
  /** Bytes pushed and not yet taken by the consumer. */
  queued = 0;

  push(chunk: Uint8Array): void {
    if (this.stopped || this.ended) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  fail(e: unknown): void {
    if (this.ended) return;
    this.failure = { e };
    this.ended = true;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private lowWaiters: Array<{ level: number; resolve: () => void }> = [];

  /** Resolves once at most `level` bytes wait for the consumer (or it has stopped: nothing will wait then). */
  below(level: number): Promise<void> {
    if (this.queued <= level || this.stopped || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.lowWaiters.push({ level, resolve }));
  }

  private checkLow(): void {
    if (this.lowWaiters.length === 0) return;
    this.lowWaiters = this.lowWaiters.filter((w) => {
      if (this.queued > w.level && !this.stopped) return true;
      w.resolve();
      return false;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        if (this.chunks.length > 0) {
          const c = this.chunks.shift()!;
          this.queued -= c.length;
          this.checkLow();
          yield c;
          continue;
        }
        if (this.failure !== null) throw this.failure.e;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.stopped = true;
      this.chunks = [];
      this.queued = 0;
      this.checkLow();
    }
  }
}
