// Starting and stopping the servers under test: a free loopback port, a child process that is
// ready when its URL answers, and a stop that never leaves a process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../support/free-port.js';

export { freePort };

export interface Child {
  process: ChildProcess;
  /** The last lines it wrote to stderr, for error messages. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * `group`: the child leads a process group of its own, and stop() signals the whole group (a launcher such as
 * `npm exec` does not pass signals on to the server it started, which would outlive the run).
 */
export function startChild(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean } = {}): Child {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], detached: opts.group === true });
  const signal = (s: NodeJS.Signals): void => {
    if (opts.group === true && child.pid !== undefined) {
      try {
        process.kill(-child.pid, s);
        return;
      } catch {
        // the group is gone already
      }
    }
    child.kill(s);
  };
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
  child.on('error', (e) => { err += `\n${e.message}`; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    stderr: () => err.trim(),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The `error: …` line of a child's stderr if it wrote one, else its last line. */
const firstError = (stderr: string): string => stderr.split('\n').find((l) => l.startsWith('error:')) ?? stderr.split('\n').pop() ?? '';

/** Polls until `url` answers `expect` (any body when omitted), or fails with the child's stderr. */
export async function waitReady(child: Child, url: string, expect?: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`exited ${child.process.exitCode}: ${firstError(child.stderr())}`);
    try {
      const res = await fetch(url);
      const body = await res.text();
      if (res.ok && (expect === undefined || body === expect)) return;
      last = `${res.status} ${JSON.stringify(body.slice(0, 80))}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last}) ${firstError(child.stderr())}`);
}
