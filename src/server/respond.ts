/** Short plain-text and JSON answers; error bodies never carry host details (the reason goes in x-isola-error). */
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { LINGER_MS } from './connections.js';
import { hasBody } from './read-body.js';

/** How much of an unread request body is read and dropped after an early answer (for up to LINGER_MS). */
const LINGER_BYTES = 1024 * 1024;
/** Bodies are written in pieces this big, each after the previous one left: see endWithBody. */
const WRITE_CHUNK = 64 * 1024;

/**
 * Answering before the request body was read (401, 404, 413…): closing at once would reset the connection
 * while the client is still sending, and it might never see the answer; draining without bound would let a
 * client stream forever. So read and drop up to LINGER_BYTES for up to LINGER_MS, then cut the connection.
 */
function lingerIfUnread(res: ServerResponse): void {
  const req = res.req;
  if (req.complete || !hasBody(req)) return;
  let seen = 0;
  const cut = (): void => {
    req.socket.destroy();
  };
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > LINGER_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export function sendText(res: ServerResponse, status: number, text?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = (text ?? (STATUS_CODES[status] ?? 'error').toLowerCase()) + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  lingerIfUnread(res);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
  lingerIfUnread(res);
}

/**
 * Ends the response with `body`, written a piece at a time as the client reads: the connection's send
 * timeout (connections.ts) sees progress after every piece, where one large write would look stalled
 * until it completed, and a slow but steady reader would be cut off.
 */
export function endWithBody(res: ServerResponse, body: Uint8Array): void {
  if (body.byteLength <= WRITE_CHUNK) {
    res.end(body);
    return;
  }
  let offset = 0;
  const pump = (): void => {
    while (!res.destroyed) {
      const chunk = body.subarray(offset, offset + WRITE_CHUNK);
      offset += chunk.byteLength;
      if (offset >= body.byteLength) {
        res.end(chunk);
        return;
      }
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}
