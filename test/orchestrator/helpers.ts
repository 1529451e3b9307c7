// Shared pieces of the orchestrator tests: fixtures, temp dirs, request descriptors, and a stand-in
// pool that runs guests in this thread (for tests of orchestrator logic that must not depend on cells).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { OutputCapture, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';
import type { CellPoolApi, InvokeRequest, LoadRequest, InvokeResult, PoolOptions, PoolStats } from '../../src/cells/types.js';
import { IsolaError } from '../../src/errors.js';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, parseManifest } from '../../src/orchestrator/manifest.js';
import type { FunctionSpec, HttpRequestDescriptor } from '../../src/orchestrator/types.js';
import { fromRoot } from '../helpers/root.js';
import { setMaxListeners } from 'node:events';

export const cgi = (name: string): Uint8Array => readFileSync(fromRoot('test/fixtures/cgi', `${name}.wasm`));

export function tempDir(prefix = 'orch'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `isola-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function spec(name: string, over: Omit<Partial<FunctionSpec>, 'limits'> & { limits?: Partial<FunctionSpec['limits']> } = {}): FunctionSpec {
  return {
    name,
    route: over.route ?? `/${name}`,
    limits: { ...DEFAULT_LIMITS, timeoutMs: 5000, ...over.limits },
    env: over.env ?? {},
    files: over.files ?? [],
    isolation: over.isolation ?? 'inline',
    executor: 'cgi',
    ...(over.tenant !== undefined ? { tenant: over.tenant } : {}),
    ...(over.idleTimeoutMs !== undefined ? { idleTimeoutMs: over.idleTimeoutMs } : {}),
  };
}

export function request(over: Partial<HttpRequestDescriptor> = {}): HttpRequestDescriptor {
  return {
    method: 'GET', path: '/x', query: '', route: '/x', params: {}, pathInfo: '',
    headers: {}, body: new Uint8Array(0), remoteAddr: '127.0.0.1', serverName: 'localhost', serverPort: 3000, scheme: 'http',
    ...over,
  };
}

/**
 * A signal that never aborts, shared by every request of a test. Many requests wait on it at once (each
 * adds and removes its listener), so Node's leak warning at 11 listeners is switched off for it alone.
 */
export const never: AbortSignal = new AbortController().signal;
setMaxListeners(0, never);

export const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** Counts what the fake pools did, across all pools a test created. */
export interface FakePoolLog { created: number; closed: number; invocations: number; open: Set<FakePool> }

/**
 * A pool that runs each invocation in this thread on a fresh instance, after `delayMs` (so tests can
 * hold requests in flight). Honours preopens, env, argv, stdin, output cap, fuel and timeout.
 */
export class FakePool implements CellPoolApi {
  private closed = false;
  private running = 0;
  constructor(private readonly opts: PoolOptions, private readonly log: FakePoolLog, private readonly delayMs: number, private readonly engine: Engine) {
    log.created++;
    log.open.add(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private get module(): LoadRequest {
    return typeof this.opts.module === 'function' ? this.opts.module() : this.opts.module;
  }

  async warm(): Promise<void> {
    this.engine.compile(this.module.bytes, this.module.compile);
  }

  async invoke(req: Omit<InvokeRequest, 'module'>): Promise<InvokeResult> {
    if (this.closed) throw new IsolaError('CELL_CLOSED', 'pool closed');
    this.running++;
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.closed) throw new IsolaError('CELL_CLOSED', 'pool closed while the request was in flight');
      const { bytes, compile } = this.module;
      const compiled = this.engine.compile(bytes, compile);
      const stdout = new OutputCapture(req.maxOutputBytes ?? 16 * 1024 * 1024);
      const stderr = new OutputCapture(req.maxStderrBytes ?? 65536);
      const t0 = performance.now();
      const exitCode = runWasiCommand(compiled, {
        args: req.args ?? [], env: req.env ?? {}, preopens: req.preopens ?? [], stdin: req.input ?? null, stdout, stderr,
      }, req.limits);
      this.log.invocations++;
      return {
        output: stdout.bytes.slice(), outputTruncated: stdout.truncated, stderr: stderr.bytes.slice(), exitCode,
        fuelConsumed: 0n, durationUs: Math.round((performance.now() - t0) * 1000),
      };
    } finally {
      this.running--;
    }
  }

  stats(): PoolStats {
    return { cells: 1, idle: this.running ? 0 : 1, busy: this.running ? 1 : 0, queued: 0, spawned: 1, crashed: 0, recycled: 0, takenBack: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log.closed++;
    this.log.open.delete(this);
  }
}

export function fakePools(delayMs = 0): { createPool: (o: PoolOptions) => FakePool; log: FakePoolLog } {
  const log: FakePoolLog = { created: 0, closed: 0, invocations: 0, open: new Set() };
  const engine = new Engine({ cacheDir: null });
  return { log, createPool: (o) => new FakePool(o, log, delayMs, engine) };
}

/** Asserts that parsing `toml` (an isola.toml) is refused with one MANIFEST line: `message` exactly, or matching it. */
export function refusedManifest(toml: string, message: string | RegExp): void {
  assert.throws(() => parseManifest(toml, 'isola.toml', { baseDir: '/srv' }), (e: unknown) => {
    assert.ok(e instanceof IsolaError, String(e));
    assert.equal(e.code, 'MANIFEST');
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}
