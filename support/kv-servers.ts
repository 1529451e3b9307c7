// Real Redis and NATS servers for the key-value tests and benchmarks (support/: shared by both, as project-root.ts), each on its own free loopback port with its
// own temp folder (never the machine's system services). A missing binary or a server that does not come up
// throws, naming why: these tests fail rather than skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestServer {
  url: string;
  port: number;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port (with the same folder), running `whileDown` between. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

const STARTUP_MS = 10_000;
const running = new Set<ChildProcess>();
const folders = new Set<string>();
// However the test process ends, no server outlives it: on exit, and on the signals that would end it
// without an exit event (the handler then lets the signal do what it would have done).
function cleanUp(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

/** redis-server with nothing saved to disk. */
export function startRedis(): Promise<TestServer> {
  return startServer('redis-server', 'PING\r\n', '+PONG', (port, dir) =>
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
  (port) => `redis://127.0.0.1:${port}`);
}

/** nats-server with JetStream, its store in the temp folder (kept across restart()); `extra`: more flags (e.g. --user/--pass). */
export function startNats(extra: string[] = []): Promise<TestServer> {
  return startServer('nats-server', '', 'INFO {', (port, dir) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, ...extra],
    (port) => `nats://127.0.0.1:${port}`);
}

async function startServer(
  name: string, probe: string, greeting: string, args: (port: number, dir: string) => string[], url: (port: number) => string,
): Promise<TestServer> {
  const binary = findBinary(name);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `isola-${name}-`));
  folders.add(dir);
  let child = await launch(binary, args(port, dir), port, probe, greeting);
  const halt = async (): Promise<void> => {
    running.delete(child);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    url: url(port),
    port,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
    async restart(whileDown) {
      await halt();
      await whileDown?.();
      child = await launch(binary, args(port, dir), port, probe, greeting);
    },
  };
}

/** Starts `binary` and resolves once its port answers `probe` with `greeting`. */
async function launch(binary: string, args: string[], port: number, probe: string, greeting: string): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-2000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let spawnError: Error | undefined;
  child.on('error', (err) => { spawnError = err; });
  const t0 = Date.now();
  for (;;) {
    if (spawnError) throw new Error(`${binary} could not be started: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      throw new Error(`${binary} ${args.join(' ')} exited (${child.exitCode ?? child.signalCode}) before answering: ${output.trim()}`);
    }
    if (await answers(port, probe, greeting)) return child;
    if (Date.now() - t0 > STARTUP_MS) {
      child.kill('SIGKILL');
      running.delete(child);
      throw new Error(`${binary} did not answer on port ${port} within ${STARTUP_MS} ms: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether 127.0.0.1:port, sent `probe`, answers something starting with `greeting`. */
function answers(port: number, probe: string, greeting: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => { if (probe) socket.write(probe); });
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      if (got.length >= greeting.length) done(got.startsWith(greeting));
    });
  });
}

function findBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  // Debian installs nats-server in /usr/sbin, which a non-root PATH may lack.
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin', '/usr/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} is not installed (apt-get install ${name}; .ci/run installs it)`);
}

export { freePort };
