/** Reads a request body into memory, refusing it (TOO_LARGE) as soon as it passes `limit` — never after reading it all. */
import type { IncomingMessage } from 'node:http';
import { IsolaError } from '../errors.js';

const EMPTY = new Uint8Array(0);

export function tooLarge(limit: number, what: string): IsolaError {
  return new IsolaError('TOO_LARGE', `${what} larger than ${limit} bytes`, { limit });
}

/** Whether the request announces a body at all (a bodiless one is "complete" only a tick after the request event). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function readBody(req: IncomingMessage, limit: number, what = 'request body'): Promise<Uint8Array> {
  const announced = req.headers['content-length'];
  if (announced !== undefined && Number(announced) > limit) return Promise.reject(tooLarge(limit, what));
  if (!hasBody(req)) return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit, what));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new IsolaError('USAGE', `request body: ${e.message}`));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new IsolaError('USAGE', 'client went away before sending the whole body'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onClose = (): void => {
      if (!req.complete) onAborted();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
