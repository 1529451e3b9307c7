/**
 * A CGI guest's stdout → an HTTP response (RFC 3875 §6). Header lines (`\n` or `\r\n`) up to a blank
 * line, then the body. `Status: 201` or `Status: 201 Created` sets the status; a `Location` without a
 * status is a 302; other headers pass through except hop-by-hop ones, `content-length` (the server
 * frames the body) and `x-isola-*` (ours: a guest must not forge `x-isola-error`).
 * Output that does not start with a header line is all body: 200 text/plain.
 */
import { IsolaError } from '../../errors.js';
import type { HttpResponseDescriptor } from '../types.js';

/** A header block longer than this is refused (Node's own default limit for request headers is 16 KiB). */
export const MAX_HEADER_BLOCK = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const STATUS = /^([1-5]\d\d)(?:[ \t]+[\x20-\x7e]*)?$/;
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'content-length',
]);

function malformed(why: string): IsolaError {
  return new IsolaError('BAD_RESPONSE', `malformed CGI response: ${why}`, { reason: why });
}

/** Index just past the line ending at `nl` and the line's text without its `\r`. */
function lineAt(out: Uint8Array, start: number, nl: number): string {
  const end = nl > start && out[nl - 1] === 0x0d ? nl - 1 : nl;
  return Buffer.from(out.buffer, out.byteOffset + start, end - start).toString('latin1');
}

function looksLikeHeader(out: Uint8Array): boolean {
  const nl = out.indexOf(0x0a);
  const first = lineAt(out, 0, nl < 0 ? Math.min(out.length, 1024) : nl);
  return HEADER_LINE.test(first);
}

export function parseCgiOutput(out: Uint8Array): HttpResponseDescriptor {
  if (!looksLikeHeader(out)) {
    return { status: 200, headers: [['content-type', 'text/plain; charset=utf-8']], body: out };
  }
  const headers: Array<[string, string]> = [];
  let status: number | undefined;
  let hasType = false;
  let hasLocation = false;
  let pos = 0;
  for (let lineNo = 1; ; lineNo++) {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0 || nl > MAX_HEADER_BLOCK) {
      throw malformed(nl < 0 && out.length <= MAX_HEADER_BLOCK ? 'header block not ended by a blank line' : `header block longer than ${MAX_HEADER_BLOCK} bytes`);
    }
    const line = lineAt(out, pos, nl);
    pos = nl + 1;
    if (line === '') break;
    const m = HEADER_LINE.exec(line);
    if (!m) throw malformed(`line ${lineNo} is not "name: value"`);
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    if (!TOKEN.test(name) || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw malformed(`line ${lineNo} has control characters`);
    if (name === 'status') {
      const s = STATUS.exec(value);
      if (!s || status !== undefined) throw malformed(`line ${lineNo}: expected one "Status: NNN [reason]" with 100 <= NNN <= 599`);
      status = Number(s[1]);
      if (status < 200 && status !== 101) throw malformed(`line ${lineNo}: informational status ${status} cannot end a response`);
      if (status === 101) throw malformed(`line ${lineNo}: status 101 (protocol switch) is not supported`);
      continue;
    }
    if (HOP_BY_HOP.has(name) || name.startsWith('x-isola-')) continue;
    if (name === 'content-type') hasType = true;
    if (name === 'location') hasLocation = true;
    headers.push([name, value]);
  }
  if (!hasType && !hasLocation) headers.push(['content-type', 'text/plain; charset=utf-8']);
  return { status: status ?? (hasLocation ? 302 : 200), headers, body: out.subarray(pos) };
}
