// Runs the real CLI the way a user does (node bin/isola.js …), with a private cache directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';

export interface CliResult { status: number | null; stdout: string; stdoutBytes: Buffer; stderr: string; ms: number }

const cacheDir = tempDir('isola-cli-cache-');

export function isola(args: string[], opts: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const start = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    input: opts.input ?? '',
    env: { ...process.env, ISOLA_CACHE_DIR: cacheDir, ISOLA_BACKTRACE: '', ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout.toString('utf8'), stdoutBytes: r.stdout, stderr: r.stderr.toString('utf8'), ms: performance.now() - start };
}

/** A Node.js stack frame means an error escaped as a crash. */
const NODE_STACK = /^\s{4}at |\bat .*\.(js|ts|mjs|cjs):\d+/m;

/**
 * The failure contract: non-zero exit, stderr is one `error: …` line (usage errors add one usage
 * hint line), never a stack trace.
 */
export function assertFails(r: CliResult, message: RegExp | string, expect: { status?: number; usage?: boolean } = {}): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.notEqual(r.status, 0, `expected failure, got status ${r.status}`);
  if (expect.status !== undefined) assert.equal(r.status, expect.status, r.stderr);
  assert.doesNotMatch(r.stderr, NODE_STACK, r.stderr);
  assert.match(lines[0]!, /^error: /, r.stderr);
  if (typeof message === 'string') assert.equal(lines[0], `error: ${message}`);
  else assert.match(lines[0]!, message);
  if (expect.usage) {
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[1]!, /^usage: isola .*\(see 'isola( \w+)? --help'\)$/);
  } else {
    assert.equal(lines.length, 1, r.stderr);
  }
}
