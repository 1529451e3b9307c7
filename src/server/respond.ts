/** Short plain-text and JSON answers; error bodies never carry host details (the reason goes in x-isola-error). */
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { hasBody } from './read-body.js';

/** How much of an unread request body is read and dropped after an early answer, and for how long. */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 2000;

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
