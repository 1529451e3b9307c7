// Spawns probe.cjs inside a jail planned by planJail(), feeds it JavaScript on stdin and returns what it
// printed. This is how the attack tests play "the first wall has fallen" without the cells core.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { launchStdio, planJail, type JailRequest, type JailTool } from '../../../src/cells/jail/index.js';
import { fromRoot } from '../../helpers/root.js';

export const PROBE = fromRoot('test', 'cells', 'jail-fixtures', 'probe.cjs');

export interface JailedRun {
  /** The probe's verdict: ok + value, or the error the code threw. Undefined if it printed nothing. */
  out?: { ok: boolean; value?: unknown; error?: string };
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export function runJailed(js: string, req: Partial<JailRequest> = {}, tool?: JailTool): Promise<JailedRun> {
  const timeoutMs = 20_000;
  const launch = planJail({
    agentEntry: PROBE, nodeArgs: [], preopens: [], memoryLimitBytes: 256 << 20, maxOpenFiles: 256, ...req,
  }, tool);
  let child;
  try {
    child = spawn(launch.command, launch.args, { env: launch.env, stdio: launchStdio(launch, ['pipe', 'pipe', 'pipe']) });
  } finally {
    launch.releaseSharedFds();
  }
  for (const [fd, bytes] of launch.fdData) (child.stdio[fd] as Writable).end(bytes);
  child.stdin!.end(js);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      launch.cleanup();
      const line = stdout.trim().split('\n').pop();
      let out: JailedRun['out'];
      try {
        out = line ? JSON.parse(line) : undefined;
      } catch {
        out = undefined;
      }
      resolve({ out, code, signal, stderr });
    });
  });
}
