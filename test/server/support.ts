// Shared by the server tests: a server on port 0 over the fake orchestrator, a log capture, raw sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/index.js';
import type { FunctionSpec } from '../../src/orchestrator/types.js';
import { parseFunctionEntry } from '../../src/orchestrator/manifest.js';
import { FakeOrchestrator, fakeModule } from './fake-orchestrator.js';

export { fakeModule };

export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger = pino({ level: 'debug' }, new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      for (const l of chunk.toString().split('\n')) if (l) this.lines.push(JSON.parse(l));
      cb();
    },
  }));
  find(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['msg'] === msg);
  }
}

export interface FakeServer {
  srv: RunningServer;
  fake: FakeOrchestrator;
  log: LogCapture;
  dataDir: string;
  /** Deploys straight into the fake (not via the admin API) and refreshes the routes. */
  add(name: string, route: string, program?: string, entry?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export async function startFake(opts: Partial<ServerOptions> = {}): Promise<FakeServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'isola-server-'));
  const log = new LogCapture();
  let fake!: FakeOrchestrator;
  const srv = await startServer({
    listen: '127.0.0.1:0',
    logger: log.logger,
    ...opts,
    dataDir,
    createOrchestrator: (o) => (fake = new FakeOrchestrator(o)),
  });
  return {
    srv, fake, log, dataDir,
    async add(name, route, program = 'echo', entry = {}) {
      const spec: FunctionSpec = parseFunctionEntry(name, { route, ...entry }, { where: 'test', source: 'forbidden' });
      await fake.deploy(spec, fakeModule(program));
      srv.refreshRoutes();
    },
    async stop() {
      await srv.close(1000);
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RawReply {
  text: string;
  status: number;
  /** True when the server closed the connection. */
  closed: boolean;
  ms: number;
}

/** Writes `chunks` (strings, or numbers = pause in ms) to a fresh connection; resolves with what came back when the server closes or `waitMs` passes. */
export function raw(url: string, chunks: Array<string | Buffer | number>, waitMs = 5000): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(Number(port), hostname);
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (done) return;
        if (typeof c === 'number') await new Promise((r) => setTimeout(r, c));
        else if (!sock.destroyed) sock.write(c);
      }
    });
  });
}
