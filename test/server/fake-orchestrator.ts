// An in-memory OrchestratorApi for the server's own tests: no Wasm, behaviour chosen per function by the
// first bytes of the "module" (after the \0asm magic): echo (default), slow:<ms>, throw:<CODE>, status:<n>, big:<bytes>, empty,
// log:<text> (echo, after writing <text> to the function's log as the guest's stderr). Logs are the real FunctionLogs.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FunctionLogs } from '../../src/orchestrator/function-logs.js';
import { IsolaError, type IsolaErrorCode } from '../../src/errors.js';
import type {
  FunctionSpec, FunctionSummary, HttpRequestDescriptor, HttpResponseDescriptor, InvocationRecord, OrchestratorApi, OrchestratorOptions, VersionInfo,
} from '../../src/orchestrator/types.js';

export const MAGIC = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
/** A fake module whose behaviour is `program`. */
export const fakeModule = (program = 'echo'): Buffer => Buffer.concat([MAGIC, Buffer.from(program)]);

interface Fn {
  versions: Array<VersionInfo & { bytes: Uint8Array }>;
  active: string | null;
  previous: string[];
}

export class FakeOrchestrator implements OrchestratorApi {
  readonly fns = new Map<string, Fn>();
  inflight = 0;
  closed = false;
  readonly logs: FunctionLogs;
  constructor(readonly opts: OrchestratorOptions) {
    this.logs = new FunctionLogs(join(opts.dataDir, 'logs'));
  }

  async deploy(spec: FunctionSpec, bytes: Uint8Array, o: { activate?: boolean; onProgress?: (phase: string) => void } = {}): Promise<VersionInfo> {
    o.onProgress?.('compile');
    if (!Buffer.from(bytes.subarray(0, 8)).equals(MAGIC)) throw new IsolaError('DECODE', 'not a WebAssembly module (bad magic)');
    for (const [name, f] of this.fns) {
      const route = f.versions.find((v) => v.id === f.active)?.spec.route;
      if (name !== spec.name && route === spec.route) throw new IsolaError('CONFLICT', `route ${spec.route} is taken by ${name}`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    const id = createHash('sha256').update(sha + JSON.stringify(spec)).digest('hex').slice(0, 16);
    const f = this.fns.get(spec.name) ?? { versions: [], active: null, previous: [] };
    this.fns.set(spec.name, f);
    let v = f.versions.find((x) => x.id === id);
    if (!v) {
      v = { id, moduleSha256: sha, size: bytes.byteLength, createdAt: new Date().toISOString(), spec, bytes };
      f.versions.unshift(v);
    }
    if (o.activate !== false && f.active !== id) {
      if (f.active) f.previous.push(f.active);
      f.active = id;
    }
    const { bytes: _b, ...info } = v;
    return info;
  }

  async activate(name: string, versionId: string): Promise<void> {
    const f = this.fns.get(name);
    if (!f || !f.versions.some((v) => v.id === versionId)) throw new IsolaError('NOT_FOUND', `no version ${versionId} of ${name}`);
    if (f.active) f.previous.push(f.active);
    f.active = versionId;
  }

  async rollback(name: string): Promise<VersionInfo> {
    const f = this.fns.get(name);
    const prev = f?.previous.pop();
    if (!f || !prev) throw new IsolaError('NOT_FOUND', `${name} has no previous version`);
    f.active = prev;
    const { bytes: _b, ...info } = f.versions.find((v) => v.id === prev)!;
    return info;
  }

  async remove(name: string): Promise<void> {
    if (!this.fns.delete(name)) throw new IsolaError('NOT_FOUND', `no function ${name}`);
    this.logs.remove(name);
  }

  list(): FunctionSummary[] {
    return [...this.fns.keys()].map((n) => this.get(n)!);
  }

  get(name: string): FunctionSummary | undefined {
    const f = this.fns.get(name);
    if (!f) return undefined;
    const active = f.versions.find((v) => v.id === f.active);
    return {
      name,
      tenant: (active ?? f.versions[0]!).spec.tenant ?? name,
      route: active?.spec.route ?? f.versions[0]!.spec.route,
      active: f.active,
      versions: f.versions.map(({ bytes: _b, ...v }) => v),
      pool: { cells: 1, idle: 1, busy: 0, queued: 0, spawned: 1, crashed: 0, recycled: 0, takenBack: 0 },
    };
  }

  routes(): Array<{ route: string; name: string }> {
    const out: Array<{ route: string; name: string }> = [];
    for (const [name, f] of this.fns) {
      const v = f.versions.find((x) => x.id === f.active);
      if (v) out.push({ route: v.spec.route, name });
    }
    return out;
  }

  async handle(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor> {
    if (this.closed) throw new IsolaError('CELL_CLOSED', 'closed');
    const f = this.fns.get(name);
    const v = f?.versions.find((x) => x.id === f.active);
    if (!v) throw new IsolaError('NOT_FOUND', `no function ${name}`);
    const program = Buffer.from(v.bytes.subarray(8)).toString();
    const [op, arg = ''] = program.split(':');
    this.inflight++;
    const started = Date.now();
    const requestId = req.headers['x-request-id'] ?? '';
    const record = (outcome: InvocationRecord['outcome'], status: number, detail?: string): void => {
      this.logs.requestEnded(requestId, name, v.id, outcome === 'ok' ? undefined : `request failed (${status}): ${detail}`);
      this.opts.onInvocation?.({
        function: name, version: v.id, requestId: req.headers['x-request-id'] ?? '', startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started, fuel: '1234', outcome, status, grantsUsed: [], ...(detail ? { detail } : {}),
      });
    };
    try {
      if (op === 'slow') {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, Number(arg));
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new IsolaError('CANCELLED', 'cancelled'));
          });
        });
      }
      if (op === 'throw') {
        const e = new IsolaError(arg as IsolaErrorCode, arg === 'TRAP' ? 'wasm trap: unreachable' : arg === 'IO' ? 'cannot open /secret/host/path' : `failed with ${arg}`);
        record(arg === 'TRAP' ? 'trap' : 'error', 500, arg);
        throw e;
      }
      if (op === 'log') this.logs.guestOutput(requestId, name, v.id, 'stderr', Buffer.from(program.slice(4)));
      if (op === 'empty') {
        record('ok', 200);
        return { status: 200, headers: [['content-type', 'text/plain']], body: new Uint8Array(0) };
      }
      if (op === 'big') {
        record('ok', 200);
        return { status: 200, headers: [['content-type', 'application/octet-stream']], body: Buffer.alloc(Number(arg), 0x61) };
      }
      const status = op === 'status' ? Number(arg) : 200;
      const { body, ...rest } = req;
      record('ok', status);
      return {
        status,
        headers: [['content-type', 'application/json'], ['x-version', v.id], ['connection', 'evil'], ['bad header', 'x']],
        body: Buffer.from(JSON.stringify({ ...rest, bodyLength: body.byteLength, bodyText: Buffer.from(body).toString() })),
      };
    } finally {
      this.inflight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.logs.close();
  }
}
