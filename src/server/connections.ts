/**
 * Every connection's life is bounded, whatever the client does (or does not do):
 * - At most `maxConnections` are served at once. Past it a connection is answered `503` + `connection: close`
 *   (it is dropped after LINGER_MS if it sends no request), and past OVERFLOW more it is closed at accept.
 * - A write that makes no progress for `sendTimeoutMs` (the client stopped reading) drops the connection and
 *   whatever response it pinned (nginx's `send_timeout`: the time between two successful writes).
 * - A connection the server has finished with (its FIN sent after a 400/408, a `connection: close`
 *   answer) is destroyed LINGER_MS later even if the client never closes its side.
 * Idle keep-alive connections are node's own `keepAliveTimeout`; slow request headers and bodies its
 * `headersTimeout` and `requestTimeout`.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * How long a connection the server is done with may stay open: enough for the client to read the last
 * answer (closing with unread input would reset the connection, and the client might lose that answer).
 */
export const LINGER_MS = 2000;
/** Connections accepted past the cap only to be told 503; beyond these they are closed at accept. */
const OVERFLOW = 64;

export interface ConnectionLimits {
  maxConnections: number;
  sendTimeoutMs: number;
}

interface Progress {
  /** Bytes whose writes have completed (handed to the kernel) when last seen. */
  done: number;
  /** When that number last moved, or the connection last had nothing to send. */
  since: number;
}

const refused = new WeakSet<Socket>();

/** Whether this connection came in past its listener's cap (its requests are answered 503). */
export function isRefused(socket: Socket): boolean {
  return refused.has(socket);
}

export class Connections {
  private readonly open = new Map<Socket, Progress>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(server: Server, private readonly limits: ConnectionLimits, private readonly logger: Logger) {
    server.maxConnections = limits.maxConnections + OVERFLOW;
    server.on('connection', (socket: Socket) => this.accepted(socket));
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, Math.floor(limits.sendTimeoutMs / 4))));
    this.sweeper.unref();
  }

  /** Connections open now (including ones being refused or lingering). */
  get count(): number {
    return this.open.size;
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private accepted(socket: Socket): void {
    this.open.set(socket, { done: 0, since: Date.now() });
    socket.once('close', () => this.open.delete(socket));
    socket.once('finish', () => destroyLater(socket)); // our side is closed: only the client's FIN is awaited
    if (this.open.size > this.limits.maxConnections) {
      refused.add(socket);
      destroyLater(socket);
      this.logger.warn({ remote: socket.remoteAddress, open: this.open.size, max: this.limits.maxConnections }, 'too many connections: refused');
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [socket, p] of this.open) {
      const pending = socket.writableLength;
      const done = (socket.bytesWritten ?? 0) - pending;
      if (pending === 0 || done !== p.done) {
        p.done = done;
        p.since = now;
      } else if (now - p.since >= this.limits.sendTimeoutMs) {
        this.logger.warn({ remote: socket.remoteAddress, pendingBytes: pending, ms: now - p.since }, 'send timeout: the client stopped reading');
        // A reset, not a FIN: the kernel drops what it still held for this client at once (nginx's
        // reset_timedout_connection) instead of keeping an orphan retrying into a window that stays shut.
        socket.resetAndDestroy();
      }
    }
  }
}

/** Destroys the socket LINGER_MS from now unless it closes first. */
export function destroyLater(socket: Socket): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
