// Helpers for the server commands' tests: the real CLI spawned asynchronously (the test's own event
// loop keeps serving a fake admin API meanwhile), and a running `isola serve` on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import type { CliResult } from './support.js';

const cacheDir = tempDir('isola-serve-cache-');

export function isolaAsync(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ISOLA_CACHE_DIR: cacheDir, ISOLA_SERVER: '', ISOLA_TOKEN: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ status, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - start });
    });
  });
}

export interface Served {
  url: string;
  child: ChildProcess;
  /** What `isola serve` wrote to stderr so far (the human lines). */
  stderr(): string;
  /** Resolves with the exit status (null after a signal) once the process has ended. */
  exited: Promise<number | null>;
  /** SIGKILL if still running (cleanup; tests that check draining send SIGTERM themselves). */
  kill(): Promise<void>;
}

/** Starts `isola serve --listen 127.0.0.1:0 …` in `cwd` and waits for its "serving URL" line. */
export function startServe(args: string[], cwd: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'warn', ...args], {
    cwd,
    env: { ...process.env, ISOLA_CACHE_DIR: cacheDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`isola serve did not start in 30 s: ${err}`));
    }, 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      const m = /^isola: serving (http:\/\/\S+)/m.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          stderr: () => err,
          exited,
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`isola serve exited ${code} before listening: ${err}`));
    });
  });
}
