/**
 * The functions' logs: what each request's guest wrote to stderr, as lines with (time, request id, function,
 * version, stream), and one `isola` line per failed request saying why (so the log explains a 500 or 504).
 *
 * Two entry points take the guest's side, built for output that arrives in chunks while the request runs:
 * `guestOutput(requestId, fn, version, stream, chunk)` and `requestEnded(requestId, fn, version, failure?)`
 * (which writes a partial last line out). Lines go to a ring per function in memory and, batched, to JSON
 * lines in `<dir>/<function>.log`, which is rotated to `<function>.log.1` when it would pass maxFileBytes.
 *
 * Bounded in every dimension, so a guest that floods stderr fills neither memory nor disk: bytes taken per
 * request and per line (log-lines.ts), requests with output pending, records and bytes per ring, bytes
 * waiting for the disk, and two files per function.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineSplitter } from './log-lines.js';
import type { FunctionLogsApi, LogQuery, LogRecord, LogStream } from './types.js';

export interface LogLimits {
  /** A longer line is cut there, with a marker. */
  maxLineBytes: number;
  /** Output taken per request and stream; then one marker line. */
  maxBytesPerRequest: number;
  /** Records kept in memory per function, and their approximate size. */
  ringRecords: number;
  ringBytes: number;
  /** Size of `<function>.log` before it is rotated to `<function>.log.1` (so at most twice this on disk). */
  maxFileBytes: number;
  /** Lines waiting for the disk per function; more are dropped (and counted in a marker line). */
  maxPendingBytes: number;
  /** How often waiting lines are written. */
  flushMs: number;
  /** Requests with output not yet ended; past it the oldest one's partial line is written out. */
  maxOpenRequests: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  maxLineBytes: 16 * 1024,
  maxBytesPerRequest: 64 * 1024,
  ringRecords: 1000,
  ringBytes: 1024 * 1024,
  maxFileBytes: 4 * 1024 * 1024,
  maxPendingBytes: 1024 * 1024,
  flushMs: 200,
  maxOpenRequests: 4096,
};

/** Record overhead besides its text, for the ring's byte budget. */
const RECORD_BYTES = 96;

interface Follower {
  onRecord: (r: LogRecord) => void;
  onEnd: () => void;
}

/** One function's log: its ring, the lines waiting for the disk, its followers. */
class FunctionLog {
  readonly ring: LogRecord[] = [];
  ringBytes = 0;
  /** The ring holds every record newer than this (ms); older ones may be on disk only. */
  completeAfter: number;
  readonly followers = new Set<Follower>();
  pending: LogRecord[] = [];
  pendingBytes = 0;
  dropped = 0;
  fileSize: number;
  failing = false;

  constructor(readonly file: string | null) {
    this.fileSize = file === null ? 0 : sizeOf(file);
    // Lines from an earlier run are on disk only.
    this.completeAfter = file !== null && (this.fileSize > 0 || existsSync(`${file}.1`)) ? Date.now() : -Infinity;
  }
}

interface OpenRequest {
  fn: string;
  version: string;
  streams: Map<LogStream, LineSplitter>;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const recordBytes = (r: LogRecord): number => r.text.length + r.requestId.length + RECORD_BYTES;

export class FunctionLogs implements FunctionLogsApi {
  private readonly limits: LogLimits;
  private readonly logs = new Map<string, FunctionLog>();
  private readonly open = new Map<string, OpenRequest>();
  private readonly flusher: NodeJS.Timeout;
  private closed = false;

  /** `dir`: where the log files go (created on the first write); null keeps the logs in memory only. */
  constructor(private readonly dir: string | null, limits: Partial<LogLimits> = {}) {
    this.limits = { ...DEFAULT_LOG_LIMITS, ...limits };
    this.flusher = setInterval(() => this.flush(), this.limits.flushMs);
    this.flusher.unref();
  }

  /** A chunk of a request's guest output (stderr; stdout for guests whose stdout is not the response). */
  guestOutput(requestId: string, fn: string, version: string, stream: Exclude<LogStream, 'isola'>, chunk: Uint8Array): void {
    if (this.closed || chunk.byteLength === 0) return;
    let req = this.open.get(requestId);
    if (!req) {
      if (this.open.size >= this.limits.maxOpenRequests) this.end(this.open.keys().next().value!);
      req = { fn, version, streams: new Map() };
      this.open.set(requestId, req);
    }
    let lines = req.streams.get(stream);
    if (!lines) {
      const limits = { maxLineBytes: this.limits.maxLineBytes, maxBytes: this.limits.maxBytesPerRequest };
      lines = new LineSplitter(limits, (text) => this.append(fn, { time: new Date().toISOString(), requestId, function: fn, version, stream, text }));
      req.streams.set(stream, lines);
    }
    lines.write(chunk);
  }

  /** One line of isola's own about a request in progress (an outbound request refused, …). */
  note(requestId: string, fn: string, version: string, text: string): void {
    if (!this.closed) this.append(fn, { time: new Date().toISOString(), requestId, function: fn, version, stream: 'isola', text });
  }

  /** The request is over: its partial lines are written, then `failure` (one line: why it failed) if given. */
  requestEnded(requestId: string, fn: string, version: string, failure?: string): void {
    this.end(requestId);
    if (failure !== undefined && !this.closed) {
      this.append(fn, { time: new Date().toISOString(), requestId, function: fn, version, stream: 'isola', text: failure });
    }
  }

  read(name: string, query: LogQuery = {}): LogRecord[] {
    const log = this.logOf(name);
    const since = query.sinceMs ?? -Infinity;
    const ringHasAll = log.completeAfter === -Infinity || since > log.completeAfter;
    const records = ringHasAll ? log.ring.filter((r) => Date.parse(r.time) >= since) : this.fromDisk(log, since);
    return query.tail !== undefined ? records.slice(Math.max(0, records.length - query.tail)) : records;
  }

  follow(name: string, onRecord: (r: LogRecord) => void, onEnd: () => void): () => void {
    if (this.closed) {
      onEnd();
      return () => {};
    }
    const log = this.logOf(name);
    const follower = { onRecord, onEnd };
    log.followers.add(follower);
    return () => log.followers.delete(follower);
  }

  /** The function is gone: its followers are ended, its lines and files deleted. */
  remove(name: string): void {
    const log = this.logs.get(name);
    this.logs.delete(name);
    if (log) for (const f of log.followers) f.onEnd();
    if (this.dir !== null) for (const file of [this.fileOf(name), `${this.fileOf(name)}.1`]) rmSync(file!, { force: true });
  }

  /** Writes what waits, ends the followers; later output is ignored. */
  close(): void {
    if (this.closed) return;
    for (const id of [...this.open.keys()]) this.end(id);
    this.flush();
    this.closed = true;
    clearInterval(this.flusher);
    for (const log of this.logs.values()) for (const f of log.followers) f.onEnd();
  }

  private end(requestId: string): void {
    const req = this.open.get(requestId);
    if (!req) return;
    this.open.delete(requestId);
    for (const lines of req.streams.values()) lines.end();
  }

  private fileOf(name: string): string | null {
    return this.dir === null ? null : join(this.dir, `${name}.log`);
  }

  private logOf(name: string): FunctionLog {
    let log = this.logs.get(name);
    if (!log) {
      log = new FunctionLog(this.fileOf(name));
      this.logs.set(name, log);
    }
    return log;
  }

  private append(fn: string, record: LogRecord): void {
    const log = this.logOf(fn);
    const size = recordBytes(record);
    log.ring.push(record);
    log.ringBytes += size;
    while (log.ring.length > this.limits.ringRecords || log.ringBytes > this.limits.ringBytes) {
      const old = log.ring.shift()!;
      log.ringBytes -= recordBytes(old);
      log.completeAfter = Math.max(log.completeAfter, Date.parse(old.time));
    }
    if (log.file !== null) {
      if (log.pendingBytes + size > this.limits.maxPendingBytes) log.dropped++;
      else {
        log.pending.push(record);
        log.pendingBytes += size;
      }
    }
    for (const f of log.followers) f.onRecord(record);
  }

  /**
   * Writes the waiting lines of every function, synchronously: reads see the files and the waiting lines
   * as one consistent sequence. Batched, so a busy function costs one small write per flushMs.
   */
  private flush(): void {
    for (const [name, log] of this.logs) {
      if (log.file === null || (log.pending.length === 0 && log.dropped === 0)) continue;
      const records = log.pending;
      if (log.dropped > 0) {
        const last = records[records.length - 1];
        records.push({
          time: new Date().toISOString(), requestId: '', function: name, version: last?.version ?? '', stream: 'isola',
          text: `[isola: ${log.dropped} log lines dropped: written faster than the disk took them]`,
        });
      }
      const data = records.map((r) => JSON.stringify(r) + '\n').join('');
      const bytes = Buffer.byteLength(data);
      try {
        mkdirSync(this.dir!, { recursive: true, mode: 0o700 });
        if (log.fileSize > 0 && log.fileSize + bytes > this.limits.maxFileBytes) {
          renameSync(log.file, `${log.file}.1`);
          log.fileSize = 0;
        }
        appendFileSync(log.file, data, { mode: 0o600 });
        log.fileSize += bytes;
        log.failing = false;
      } catch (e) {
        // Kept in memory (the ring) only; said once per failing streak, in the log itself.
        if (!log.failing) {
          log.failing = true;
          const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          this.append(name, { time: new Date().toISOString(), requestId: '', function: name, version: '', stream: 'isola', text: `[isola: cannot write ${log.file}: ${why}; these lines are kept in memory only]` });
        }
      }
      log.pending = [];
      log.pendingBytes = 0;
      log.dropped = 0;
    }
  }

  /** The rotated file, the current one, then the lines not written yet. */
  private fromDisk(log: FunctionLog, since: number): LogRecord[] {
    const out: LogRecord[] = [];
    const keep = (r: LogRecord): void => {
      if (Date.parse(r.time) >= since) out.push(r);
    };
    if (log.file === null) {
      log.ring.forEach(keep);
      return out;
    }
    for (const file of [`${log.file}.1`, log.file]) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          keep(JSON.parse(line) as LogRecord);
        } catch {
          // a torn last line (the disk filled up mid-write): skipped
        }
      }
    }
    log.pending.forEach(keep);
    return out;
  }
}
