/**
 * One hardened HTTP listener: node:http with header/request/keep-alive timeouts, malformed HTTP answered
 * on the socket, every connection's life bounded (connections.ts). The server opens one for functions and,
 * with `adminListen`, a second one for the admin API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { IsolaError } from '../errors.js';
import { Connections } from './connections.js';

export interface ListenerOptions {
  host: string;
  port: number;
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  sendTimeoutMs: number;
  logger: Logger;
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface Listener {
  server: Server;
  connections: Connections;
  /** http://host:port with the port actually bound. */
  url: string;
  port: number;
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request header fields too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request timeout'],
};

export async function openListener(opts: ListenerOptions): Promise<Listener> {
  const requestTimeout = opts.requestTimeoutMs;
  const headersTimeout = Math.min(opts.headersTimeoutMs, requestTimeout);
  const server = createServer({
    maxHeaderSize: opts.maxHeaderBytes,
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    // How often node checks the two timeouts above (its default, 30 s, would let a slowloris linger).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
  });
  const connections = new Connections(server, { maxConnections: opts.maxConnections, sendTimeoutMs: opts.sendTimeoutMs }, opts.logger);
  server.on('request', opts.onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, text] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'bad request'];
    opts.logger.warn({ code: err.code, status, remote: socket.remoteAddress }, 'bad HTTP from client');
    // Our side closes after the answer; connections.ts destroys the socket if the client never closes its own.
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length + 1}\r\n\r\n${text}\n`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new IsolaError('IO', `cannot listen on ${opts.host}:${opts.port}: ${e.code ?? e.message}`)));
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (e) {
    connections.stop();
    throw e;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return { server, connections, url, port };
}
