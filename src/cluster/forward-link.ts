/**
 * One forwarded request's line to its peer, either side: sends frames to the peer's subject (with this side's
 * own reply subject), a keepalive after a third of the idle limit without sending, and notices the peer's
 * silence (nothing heard for the idle limit). Timers are unref'd: a request never keeps the process alive.
 */
import type { NatsConnection } from 'nats';
import { encodeFrame, type Kind } from './forward-codec.js';

export class Link {
  /** The peer's subject; unknown (nothing is sent) until the peer's first message says it (client side). */
  to: string | undefined;
  private lastSent = 0;
  private readonly silence: NodeJS.Timeout;
  private readonly beat: NodeJS.Timeout;
  private firstBeat: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * `replyTo`: where the peer answers (sent with every frame). `onSilent`: nothing heard for `idleMs`.
   * `onBroken`: a publish failed (the connection closed or is draining). `firstBeatMs`: an earlier first
   * keepalive, if nothing was sent by then (the server's: the client learns soon where to send a cancel).
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly replyTo: string | undefined,
    idleMs: number,
    onSilent: () => void,
    private readonly onBroken: (e: unknown) => void,
    firstBeatMs?: number,
  ) {
    this.silence = setTimeout(onSilent, idleMs);
    this.silence.unref();
    const every = Math.max(10, Math.floor(idleMs / 3));
    this.beat = setInterval(() => {
      if (Date.now() - this.lastSent >= every) this.send('P', 0);
    }, every);
    this.beat.unref();
    if (firstBeatMs !== undefined && firstBeatMs < every) {
      this.firstBeat = setTimeout(() => {
        if (this.lastSent === 0) this.send('P', 0);
      }, firstBeatMs);
      this.firstBeat.unref();
    }
  }

  /** Publishes one frame to the peer; false when it could not (closed, no peer yet, connection gone). */
  send(kind: Kind, seq: number, json?: Uint8Array, bytes?: Uint8Array): boolean {
    if (this.closed || this.to === undefined) return false;
    try {
      this.nc.publish(this.to, encodeFrame(kind, seq, json, bytes), this.replyTo === undefined ? undefined : { reply: this.replyTo });
    } catch (e) {
      this.onBroken(e);
      return false;
    }
    this.lastSent = Date.now();
    return true;
  }

  /** The peer said something: its silence starts again. */
  heard(): void {
    if (!this.closed) this.silence.refresh();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.silence);
    clearInterval(this.beat);
    clearTimeout(this.firstBeat);
  }
}
