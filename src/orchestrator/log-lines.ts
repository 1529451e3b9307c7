/**
 * One request's guest output → log lines, as chunks arrive: split on newline (a trailing `\r` dropped), a
 * partial last line kept until its newline or the end of the request, a line longer than `maxLineBytes`
 * cut there (at a character boundary) with a marker and the rest of it skipped, invalid UTF-8 replaced
 * (U+FFFD), and at most `maxBytes` of output taken per request, then one marker line and nothing more.
 */

export interface LineLimits {
  maxLineBytes: number;
  maxBytes: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const NEWLINE = 0x0a;

export const cutMarker = (limit: number): string => ` [line cut at ${limit} bytes]`;
export const droppedMarker = (limit: number): string => `[isola: output past ${limit} bytes for this request dropped]`;

/** Where to cut `bytes` at most `max` long without splitting a UTF-8 sequence. */
function charBoundary(bytes: Uint8Array, max: number): number {
  let end = Math.min(max, bytes.length);
  // Back off over continuation bytes (10xxxxxx) to the start of the character that does not fit whole.
  for (let back = 0; back < 3 && end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80; back++) end--;
  return end;
}

export class LineSplitter {
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  /** Inside an overlong line that was already cut: drop until its newline. */
  private skipping = false;
  private seen = 0;
  private full = false;

  constructor(private readonly limits: LineLimits, private readonly emit: (text: string) => void) {}

  write(chunk: Uint8Array): void {
    if (this.full) return;
    const room = this.limits.maxBytes - this.seen;
    const take = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    this.seen += take.byteLength;
    let start = 0;
    for (let nl = take.indexOf(NEWLINE); nl >= 0; nl = take.indexOf(NEWLINE, start)) {
      this.add(take.subarray(start, nl));
      this.endLine(true);
      start = nl + 1;
    }
    if (start < take.byteLength) this.add(take.subarray(start));
    if (take !== chunk) {
      this.full = true;
      this.endLine(false);
      this.emit(droppedMarker(this.limits.maxBytes));
    }
  }

  /** The request ended: a partial last line is written as it is. */
  end(): void {
    this.endLine(false);
  }

  private add(piece: Uint8Array): void {
    if (this.skipping || piece.byteLength === 0) return;
    this.partial.push(piece.slice()); // the caller may reuse its buffer once write() returns
    this.partialBytes += piece.byteLength;
    if (this.partialBytes > this.limits.maxLineBytes) {
      const line = this.take();
      const end = charBoundary(line, this.limits.maxLineBytes);
      this.emit(decoder.decode(line.subarray(0, end)) + cutMarker(this.limits.maxLineBytes));
      this.skipping = true;
    }
  }

  /** At a newline an empty line is a line; at the end of the output it is nothing. */
  private endLine(newline: boolean): void {
    if (this.skipping) {
      if (newline) this.skipping = false;
      return;
    }
    if (this.partialBytes === 0) {
      if (newline) this.emit('');
      return;
    }
    const line = this.take();
    const end = line[line.byteLength - 1] === 0x0d ? line.byteLength - 1 : line.byteLength;
    this.emit(decoder.decode(line.subarray(0, end)));
  }

  private take(): Uint8Array {
    const line = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial, this.partialBytes);
    this.partial = [];
    this.partialBytes = 0;
    return line;
  }
}
