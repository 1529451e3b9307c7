// Shared by the example tests: run the real CLI, and read an example module.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, fromRoot } from '../helpers/root.js';

export interface CliResult { status: number | null; stdout: Buffer; stderr: string }

/** Runs `isola ARGS...` as a user would, with `input` on stdin. */
export function isola(args: string[], input?: Uint8Array | string, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: input ?? '',
    env: { ...process.env, ISOLA_BACKTRACE: '', ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Path of examples/NAME, relative to the project root (the CLI runs from there). */
export const example = (name: string): string => fromRoot('examples', name);
export const exampleBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(example(name)));

/** stdout as printed lines, without the final newline. */
export const lines = (r: CliResult): string[] => r.stdout.toString('utf8').trimEnd().split('\n');

/** A Node.js stack frame in CLI output means an error escaped as a crash. */
export const NODE_STACK = /\bat .*\.(js|ts|mjs):\d+/;
