/**
 * wasi:http/types.fields: HTTP header (and trailer) fields as a guest sees and builds them. Names are
 * tokens (RFC 9110 §5.1), kept lower-case; values are bytes without CR, LF or NUL (§5.5); names that belong to
 * the connection, not the message, are forbidden (as wasmtime forbids them), so a guest can neither smuggle a
 * second message nor break the connection it answers on. Fields a guest is given are immutable.
 */
import { P2Error } from '../wasi-p2/p1-bridge.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Names that describe one connection, not the message: never handed on across a hop, in either direction. */
export const CONNECTION_FIELDS: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'http2-settings',
]);

/**
 * What a guest may not set (wasmtime's default forbidden set): the connection's names, the trailer
 * announcement and proxy credentials. Framing the server computes (content-length) is allowed in fields, as
 * guests copy a request's headers whole, and dropped from what the gateway sends.
 */
export const FORBIDDEN_FIELDS: ReadonlySet<string> = new Set([...CONNECTION_FIELDS, 'trailer', 'proxy-authenticate', 'proxy-authorization']);
/** One fields' total size (names and values): more is not a header a client would take. */
export const MAX_FIELDS_BYTES = 64 * 1024;

type Entry = [string, Uint8Array];
const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function validValue(v: Uint8Array): boolean {
  for (const b of v) if (b === 0 || b === 10 || b === 13 || (b < 32 && b !== 9) || b === 127) return false;
  return true;
}

const headerError = (tag: 'invalid-syntax' | 'forbidden' | 'immutable'): P2Error => new P2Error({ tag });

export class Fields {
  private entriesList: Entry[] = [];
  private bytes = 0;
  /** Fields given to the guest (a request's headers, a response's after it was built) cannot change. */
  immutable = false;
  /** Names the guest may not set here (the forbidden set for fields it builds; none for ones the host builds). */
  private readonly forbidden: ReadonlySet<string>;

  constructor(forbidden: ReadonlySet<string> = FORBIDDEN_FIELDS) {
    this.forbidden = forbidden;
  }

  /** Host-made, immutable fields (a request's headers): values as Node gives them (latin-1 strings). */
  static fromHost(pairs: ReadonlyArray<readonly [string, string]>): Fields {
    const f = new Fields(new Set());
    for (const [n, v] of pairs) f.entriesList.push([n.toLowerCase(), latin1(v)]);
    f.immutable = true;
    return f;
  }

  static fromList(entries: Array<[string, Uint8Array]>): Fields {
    const f = new Fields();
    for (const [n, v] of entries) f.append(n, v);
    return f;
  }

  private check(name: string, values: Uint8Array[]): string {
    if (this.immutable) throw headerError('immutable');
    if (!TOKEN.test(name)) throw headerError('invalid-syntax');
    const lower = name.toLowerCase();
    if (this.forbidden.has(lower)) throw headerError('forbidden');
    for (const v of values) if (!validValue(v)) throw headerError('invalid-syntax');
    return lower;
  }

  private add(name: string, value: Uint8Array): void {
    const size = name.length + value.length;
    if (this.bytes + size > MAX_FIELDS_BYTES) throw headerError('invalid-syntax');
    this.bytes += size;
    this.entriesList.push([name, Uint8Array.from(value)]);
  }

  get(name: string): Uint8Array[] {
    const lower = name.toLowerCase();
    return this.entriesList.filter(([n]) => n === lower).map(([, v]) => Uint8Array.from(v));
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.entriesList.some(([n]) => n === lower);
  }

  set(name: string, values: Uint8Array[]): void {
    const lower = this.check(name, values);
    this.remove(lower);
    for (const v of values) this.add(lower, v);
  }

  delete(name: string): void {
    this.remove(this.check(name, []));
  }

  append(name: string, value: Uint8Array): void {
    this.add(this.check(name, [value]), value);
  }

  entries(): Entry[] {
    return this.entriesList.map(([n, v]) => [n, Uint8Array.from(v)]);
  }

  clone(): Fields {
    const f = new Fields(this.forbidden);
    f.entriesList = this.entries();
    f.bytes = this.bytes;
    return f;
  }

  /** The host's view: name and value as latin-1 text (what node:http writes byte for byte). */
  pairs(): Array<[string, string]> {
    return this.entriesList.map(([n, v]) => [n, Buffer.from(v).toString('latin1')]);
  }

  private remove(lower: string): void {
    this.entriesList = this.entriesList.filter(([n, v]) => {
      if (n !== lower) return true;
      this.bytes -= n.length + v.length;
      return false;
    });
  }

  [Symbol.dispose](): void {}
}
