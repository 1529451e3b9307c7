/** Replies to a guest's capability calls, and the stops (cancel, timeout) that answer a waiting guest early. */
import { IsolaError } from '../../../errors.js';
import { formatDuration } from '../../../engine/units.js';
import { Reply } from '../channel.js';

const EMPTY = new Uint8Array(0);

export const reply = (kind: number, data: Uint8Array = EMPTY): Uint8Array => {
  const out = new Uint8Array(1 + data.length);
  out[0] = kind;
  out.set(data, 1);
  return out;
};
export const stopReply = (e: IsolaError): Uint8Array => reply(Reply.STOP, Buffer.from(JSON.stringify({ code: e.code, message: e.message })));

/**
 * Why the guest must stop waiting: its caller went away, or its time is up. A guest blocked in a call cannot
 * see its own deadline (it is not running), so the host answers the call with a stop at that moment.
 */
export class Stops {
  private readonly timer: NodeJS.Timeout | undefined;
  private reason: IsolaError | null = null;
  private readonly waiters = new Set<(e: IsolaError) => void>();
  private readonly onAbort = (): void => this.stop(new IsolaError('CANCELLED', 'the client went away'));

  constructor(private readonly signal: AbortSignal, timeoutMs: number) {
    this.timer = setTimeout(() => this.stop(new IsolaError('TIMEOUT', `timed out after ${formatDuration(timeoutMs)}`, { timeoutMs })), timeoutMs);
    this.timer.unref();
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  private stop(e: IsolaError): void {
    if (this.reason !== null) return;
    this.reason = e;
    for (const w of this.waiters) w(e);
    this.waiters.clear();
  }

  /** `work`'s reply, or a stop reply if one comes first. */
  async race(work: Promise<Uint8Array>): Promise<Uint8Array> {
    if (this.reason !== null) return stopReply(this.reason);
    let waiter!: (e: IsolaError) => void;
    const stopped = new Promise<Uint8Array>((resolve) => {
      waiter = (e) => resolve(stopReply(e));
      this.waiters.add(waiter);
    });
    try {
      return await Promise.race([work, stopped]);
    } finally {
      this.waiters.delete(waiter);
    }
  }

  end(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

