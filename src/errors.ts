/**
 * The one error type every layer throws for expected failures (bad input, limits, traps).
 * The CLI prints `error: <message>` for these and never a stack trace; anything that is
 * not an IsolaError is a bug in isola and is reported as such.
 */
export type IsolaErrorCode =
  | 'DECODE' // the bytes are not a module we can read (offset + reason)
  | 'INVALID' // V8 or our validation rejected the module
  | 'COMPONENT' // a component where a core module was expected
  | 'LINK' // missing/mismatched imports
  | 'NO_EXPORT' // unknown export or wrong kind
  | 'BAD_ARGS' // wrong argument count or unconvertible argument
  | 'FUEL' // fuel exhausted
  | 'TIMEOUT' // wall-clock timeout
  | 'MEMORY_LIMIT' // memory cap exceeded at load time
  | 'TRAP' // a wasm trap
  | 'BUFFER' // buffer ABI misuse (input too big, bad pointers)
  | 'ARTIFACT' // precompiled artifact rejected
  | 'USAGE' // bad options/flags
  | 'IO' // host file I/O
  | 'EXIT' // a WASI proc_exit (not a failure by itself; carries the code)
  | 'CELL_CRASHED' // the cell running the guest died (signal, OOM, exit): "cell crashed (signal SIGKILL)"
  | 'CELL_PROTOCOL' // a cell sent a malformed frame and was killed: "cell-protocol-error: ..."
  | 'CELL_CLOSED' // the cell or pool was shut down before/while the invocation ran
  | 'CANCELLED' // the caller aborted the invocation
  | 'JAIL' // the OS jail could not be built (and no fallback was allowed)
  | 'OVERLOADED' // concurrency and queue are full (HTTP 503 + retry-after)
  | 'NOT_FOUND' // unknown function / version / route
  | 'MANIFEST' // isola.toml or a deploy's manifest entry is invalid (file, key, expectation)
  | 'TOO_LARGE' // body, upload or output above its limit (HTTP 413)
  | 'CONFLICT' // e.g. route already taken by another function
  | 'UNAVAILABLE' // a backend the server depends on (a key-value store) did not answer or could not open (HTTP 503)
  | 'FORBIDDEN' // a deploy asks for more than the server allows (a directory outside --allow-dir, an isolation outside --allow-isolation): HTTP 403
  | 'BAD_RESPONSE'; // a guest's response is unusable: malformed CGI headers, output above max-response, non-zero exit (HTTP 500)

export class IsolaError extends Error {
  readonly code: IsolaErrorCode;
  /** Extra structured detail (offset, trap kind, backtrace frames…). */
  readonly detail: Record<string, unknown>;
  constructor(code: IsolaErrorCode, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'IsolaError';
    this.code = code;
    this.detail = detail;
  }
}

export function isIsolaError(e: unknown): e is IsolaError {
  return e instanceof IsolaError;
}

/**
 * A granted directory that no longer is what was granted: its path now resolves elsewhere (a symlink put in
 * its way since, e.g. by a guest granted a parent directory). Refused, never followed; the host path is only
 * in the message, which clients never see (IO errors read "internal error" over HTTP).
 */
export function grantChanged(granted: string, nowResolvesTo: string): IsolaError {
  return new IsolaError('IO', `granted directory ${granted} changed since it was granted: it now resolves to ${nowResolvesTo}; refused`, { path: granted });
}
