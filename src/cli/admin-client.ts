/**
 * The client side of the server's admin API (src/server/README.md): deploy, list, activate,
 * roll back, remove, logs. Every failure becomes one IsolaError line: an unreachable server, a refused
 * token, or the server's own `{"error": …}` message with its status.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { IsolaError, type IsolaErrorCode } from '../errors.js';
import type { FunctionSummary, LogRecord, SpareSummary, TenantSummary, VersionInfo } from '../orchestrator/types.js';
import { functionNameProblem } from '../orchestrator/function-name.js';
import type { NodeStatus } from '../orchestrator/cluster-api.js';

export interface DeployOptions {
  activate?: boolean;
  /** Bytes of the module sent so far (called as the upload proceeds). */
  onUpload?: (sent: number, total: number) => void;
  /** The server's phases after the upload: 'received', then the orchestrator's ('compiling', …). */
  onPhase?: (phase: string) => void;
}

export interface DeployResult { function: string; version: VersionInfo; active: string | null }
export interface RollbackResult { function: string; active: string; version: VersionInfo }

interface Answer { status: number; body: string }

/** Upload chunk size: small enough for a smooth progress bar, large enough to cost nothing. */
const CHUNK = 256 * 1024;

const STATUS_CODES: Record<number, IsolaErrorCode> = { 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 413: 'TOO_LARGE', 503: 'OVERLOADED' };

export class AdminClient {
  readonly server: URL;

  constructor(server: string, private readonly token: string | undefined) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new IsolaError('USAGE', `invalid server URL '${server}' (expected e.g. http://127.0.0.1:3000)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new IsolaError('USAGE', `invalid server URL '${server}' (expected http:// or https://)`);
    }
    this.server = url;
  }

  async deploy(name: string, manifest: Record<string, unknown>, bytes: Uint8Array, opts: DeployOptions = {}): Promise<DeployResult> {
    const query = opts.activate === false ? '?activate=false' : '';
    const headers = {
      'content-type': 'application/wasm',
      accept: 'application/x-ndjson, application/json',
      // The server wants ASCII in this header: JSON.stringify then \uXXXX for the rest.
      'x-isola-manifest': JSON.stringify(manifest).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    };
    const res = await this.send('PUT', `${functionPath(name)}${query}`, headers, bytes, opts.onUpload);
    if (!/ndjson/.test(String(res.headers['content-type']))) return this.json<DeployResult>(await readAnswer(res));
    return deployStream(res, opts.onPhase, this.server.origin);
  }

  async list(): Promise<FunctionSummary[]> {
    return (await this.call<{ functions: FunctionSummary[] }>('GET', '/admin/functions')).functions;
  }

  /** The tenants' cells and the warm spares (a server from before tenants answers 404: none to show). */
  async tenants(): Promise<{ tenants: TenantSummary[]; spares: SpareSummary | null }> {
    try {
      const r = await this.call<{ tenants?: unknown; spares?: unknown }>('GET', '/admin/tenants');
      if (Array.isArray(r.tenants)) return { tenants: r.tenants as TenantSummary[], spares: (r.spares ?? null) as SpareSummary | null };
    } catch {
      // an older server: nothing to show
    }
    return { tenants: [], spares: null };
  }

    get(name: string): Promise<FunctionSummary> {
    return this.call('GET', functionPath(name));
  }

  activate(name: string, version: string): Promise<{ function: string; active: string }> {
    return this.call('POST', `${functionPath(name)}/activate`, { version });
  }

  rollback(name: string): Promise<RollbackResult> {
    return this.call('POST', `${functionPath(name)}/rollback`);
  }

  remove(name: string): Promise<{ function: string; removed: boolean }> {
    return this.call('DELETE', functionPath(name));
  }

  /** A function's log lines (`since`: a duration like 10m or an ISO time); with `follow`, new ones until the server ends the answer. */
  async logs(name: string, query: { since?: string; tail?: number; follow?: boolean }, onRecord: (r: LogRecord) => void): Promise<void> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', query.since);
    if (query.tail !== undefined) params.set('tail', String(query.tail));
    if (query.follow) params.set('follow', '1');
    const search = params.size > 0 ? `?${params}` : '';
    const res = await this.send('GET', `${functionPath(name)}/logs${search}`, { accept: 'application/x-ndjson' });
    if (res.statusCode !== 200) throw statusError(res.statusCode ?? 0, (await readAnswer(res)).body, this.server.origin);
    await eachJsonLine(res, 'log line', this.server.origin, (value) => onRecord(value as unknown as LogRecord));
  }

  /** The cluster as the server sees it (a server not in a cluster answers 404: this throws NOT_FOUND). */
  clusterStatus(): Promise<{ cluster: string; node: string; nodes: NodeStatus[] }> {
    return this.call('GET', '/admin/cluster');
  }

  kvStores(): Promise<{ stores: Array<{ name: string; backend: string; open: boolean }> }> {
    return this.call('GET', '/admin/kv');
  }

  kvList(store: string, prefix: string, cursor: string | null): Promise<{ keys: string[]; cursor: string | null }> {
    const params = new URLSearchParams();
    if (prefix !== '') params.set('prefix', prefix);
    if (cursor !== null) params.set('cursor', cursor);
    return this.call('GET', `/admin/kv/${encodeURIComponent(store)}${params.size > 0 ? `?${params}` : ''}`);
  }

  /** A value's bytes, as stored. */
  async kvGet(store: string, key: string): Promise<Uint8Array> {
    const res = await this.send('GET', kvPath(store, key), { accept: 'application/octet-stream, application/json' });
    const parts: Buffer[] = [];
    for await (const chunk of res) parts.push(chunk as Buffer);
    const body = Buffer.concat(parts);
    if (res.statusCode === 200) return body;
    throw statusError(res.statusCode ?? 0, body.toString('utf8'), this.server.origin);
  }

  async kvSet(store: string, key: string, value: Uint8Array): Promise<{ bytes: number }> {
    return this.json(await readAnswer(await this.send('PUT', kvPath(store, key), { 'content-type': 'application/octet-stream', accept: 'application/json' }, value)));
  }

  kvRemove(store: string, key: string): Promise<{ removed: boolean }> {
    return this.call('DELETE', kvPath(store, key));
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (data) headers['content-type'] = 'application/json';
    return this.json<T>(await readAnswer(await this.send(method, path, headers, data)));
  }

  /** A 2xx answer's JSON, or the server's error as one line. */
  private json<T>(a: Answer): T {
    if (a.status >= 200 && a.status < 300) {
      try {
        return JSON.parse(a.body) as T;
      } catch {
        throw new IsolaError('IO', `${this.server.origin} answered ${a.status} with something that is not JSON (is it an isola server?)`);
      }
    }
    throw statusError(a.status, a.body, this.server.origin);
  }

  /** One request; the body goes out in chunks so `onUpload` can follow it. */
  private send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array, onUpload?: DeployOptions['onUpload']): Promise<IncomingMessage> {
    const url = new URL(path, this.server);
    const all: Record<string, string | number> = { ...headers };
    if (this.token) all.authorization = `Bearer ${this.token}`;
    if (body) all['content-length'] = body.byteLength;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers: all }, resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectionError(e, this.server.origin)));
      if (!body) return req.end();
      let sent = 0;
      const pump = (): void => {
        while (sent < body.byteLength) {
          const chunk = body.subarray(sent, sent + CHUNK);
          sent += chunk.byteLength;
          const done = sent;
          const more = req.write(chunk, () => onUpload?.(done, body.byteLength));
          if (!more) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  }
}

function readAnswer(res: IncomingMessage): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    res.on('error', reject);
  });
}

/** Each JSON line of an application/x-ndjson answer, as it arrives; a line that is not JSON is one error naming `what`. */
async function eachJsonLine(res: IncomingMessage, what: string, where: string, onLine: (value: Record<string, unknown>) => void): Promise<void> {
  let pending = '';
  const take = (text: string): void => {
    const line = text.trim();
    if (!line) return;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new IsolaError('IO', `${where} sent a malformed ${what}: ${line.slice(0, 80)}`);
    }
    onLine(value);
  };
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      take(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  take(pending);
}

/** Deploy progress as JSON lines: phases, then `{"ok":true,…}` or `{"ok":false,"status":…,"error":…}`. */
async function deployStream(res: IncomingMessage, onPhase: DeployOptions['onPhase'], where: string): Promise<DeployResult> {
  let last: Record<string, unknown> | undefined;
  await eachJsonLine(res, 'progress line', where, (value) => {
    last = value;
    if (typeof value.phase === 'string') onPhase?.(value.phase);
  });
  if (last?.ok === true) return last as unknown as DeployResult;
  if (last?.ok === false) throw statusError(Number(last.status) || 400, JSON.stringify({ error: last.error }), where);
  throw new IsolaError('IO', `${where} ended the deploy without a result (did the server stop?)`);
}

const kvPath = (store: string, key: string): string => `/admin/kv/${encodeURIComponent(store)}?key=${encodeURIComponent(key)}`;

function statusError(status: number, body: string, where: string): IsolaError {
  let message = body.trim().split('\n')[0]!.slice(0, 300);
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch { /* not JSON: keep the text */ }
  if (status === 401) {
    return new IsolaError('IO', `${where} refused the admin token (401 ${message}); give --token, ISOLA_TOKEN, or run where .isola/admin-token is readable`);
  }
  return new IsolaError(STATUS_CODES[status] ?? 'IO', `${where}: ${status} ${message || 'no message'}`, { status });
}

function connectionError(e: NodeJS.ErrnoException, where: string): IsolaError {
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused; is `isola serve` running there?',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found (DNS lookup failed)',
    ETIMEDOUT: 'connection timed out',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'host unreachable',
  };
  return new IsolaError('IO', `cannot reach the isola server at ${where}: ${why[e.code ?? ''] ?? e.message}`);
}

/** The admin URL path of a function, after the same name check the server makes (a one-line usage error here, not a 400 about the URL). */
function functionPath(name: string): string {
  const problem = functionNameProblem(name);
  if (problem !== null) throw new IsolaError('USAGE', problem);
  return `/admin/functions/${name}`;
}

