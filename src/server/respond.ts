/** Short plain-text and JSON answers; error bodies never carry host details (the reason goes in x-isola-error). */
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { hasBody } from './read-body.js';

/** Answering before the request body was read: close afterwards rather than let node drain an unbounded body. */
function closeIfUnread(res: ServerResponse, headers: Record<string, string>): Record<string, string> {
  return res.req.complete || !hasBody(res.req) ? headers : { ...headers, connection: 'close' };
}

export function sendText(res: ServerResponse, status: number, text?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = (text ?? (STATUS_CODES[status] ?? 'error').toLowerCase()) + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...closeIfUnread(res, headers) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...closeIfUnread(res, headers) });
  res.end(body);
}
