/**
 * Writing a response whose body arrives while it is sent (a wasi:http guest's). A short one is gathered
 * first: if the guest ends within GATHER_MS and GATHER_BYTES, the response goes out whole, with a
 * content-length, in one write (as a CGI response does). Otherwise it streams, chunked: each piece is written
 * once the previous one has left (the connection's send timeout sees progress), trailers after the last.
 * A guest that fails mid-body cuts the connection, so the client sees an incomplete response, never a
 * complete-looking one; one that fails before its first body byte was sent gets the error answer a whole
 * response would (thrown on to the caller). A bodiless answer (HEAD, 204, 304) still waits for the guest,
 * whose bytes are dropped.
 */
import type { ServerResponse } from 'node:http';
import type { HttpResponseDescriptor } from '../orchestrator/types.js';
import { endWithBody } from './respond.js';

/** How long, and how much, a response is held to go out whole rather than chunked. */
const GATHER_MS = 2;
const GATHER_BYTES = 64 * 1024;

type Next = IteratorResult<Uint8Array>;

export async function writeStreamed(res: ServerResponse, status: number, headers: string[], out: HttpResponseDescriptor, bodiless: boolean,
  trailerOk: (name: string, value: string) => boolean): Promise<void> {
  const it = out.stream![Symbol.asyncIterator]();
  const held: Uint8Array[] = [];
  let size = 0;
  let next: Promise<Next> = it.next();
  let started = false;
  try {
    // Gather: the whole body, if it comes soon and is small.
    const until = performance.now() + GATHER_MS;
    let timer: NodeJS.Timeout | undefined;
    for (;;) {
      const left = until - performance.now();
      const r = left <= 0 ? null : await Promise.race([next, new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), left);
      })]);
      clearTimeout(timer);
      if (r === null) break; // too slow: stream
      if (r.done) {
        const trailers = await out.completion;
        if (trailers === null || trailers === undefined || bodiless) {
          // RFC 9110 §6.4.1, §8.6: no length on 204/304; a HEAD answer has the length a GET would have.
          if (status !== 204 && status !== 304 && !(bodiless && size === 0)) headers.push('content-length', String(size));
          res.writeHead(status, headers);
          if (bodiless) res.end();
          else endWithBody(res, Buffer.concat(held));
          return;
        }
        break; // trailers need a chunked body
      }
      next = it.next();
      size += r.value.length; // counted for a HEAD answer's length too
      if (bodiless || r.value.length === 0) continue;
      held.push(r.value);
      if (size >= GATHER_BYTES) break;
    }
    // Stream: the head with the first body bytes (a guest that fails before any still gets a plain error
    // answer), what was gathered, then the rest as it comes.
    const start = (): void => {
      if (!started) res.writeHead(status, headers);
      started = true;
    };
    if (held.length > 0) start();
    for (const chunk of held) if (!res.write(chunk)) await drained(res);
    held.length = 0;
    for (let r = await next; !r.done; r = await it.next()) {
      if (res.destroyed) break;
      if (bodiless || r.value.length === 0) continue;
      start();
      if (!res.write(r.value)) await drained(res);
    }
    const trailers = await out.completion;
    if (res.destroyed) return;
    start();
    if (trailers && !bodiless) res.addTrailers(trailers.filter(([n, v]) => trailerOk(n, v)));
    res.end();
  } catch (e) {
    await it.return?.();
    if (!started && !res.headersSent) throw e;
    res.destroy(); // the guest failed mid-body (the orchestrator logged why)
  }
}

/** Resolves when the response can take more, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
