// isola under test: `isola serve` spawned as a user runs it (bin/isola.js, its own data dir), the
// bench's CGI hello deployed through the admin API, and a second function redeployed every second.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AdminClient } from '../../src/cli/admin-client.js';
import { CLI } from '../../support/project-root.js';
import { helloCgi } from './hello-cgi.js';
import { startChild, waitReady } from './servers.js';

export interface IsolaUnderTest {
  helloUrl: string;
  /** The server's pid (its cells are its descendants). */
  pid: number;
  /** The wall the server reports using (a `process` request without a jail falls back to `worker`). */
  isolation(): string;
  /** Starts redeploying `swap` (a new version each time) every second; the returned stop waits for the last deploy. */
  hotSwapEverySecond(): () => Promise<void>;
  /** Deploys done and failed; requests to the swapped function itself and how many were not a clean 200. */
  swaps: { done: number; failed: number; probes: number; probeErrors: number; lastError?: string };
  /** Deploys the same hello as `hello-ISOLATION` with that isolation; resolves to its URL once it answers. */
  helloWith(isolation: string): Promise<string>;
  /** Deploys `bytes` as function `name` at /NAME (manifest entry `entry`, the bench's isolation unless it says); resolves to its URL. */
  deploy(name: string, entry: Record<string, unknown>, bytes: Uint8Array): Promise<string>;
  stop(): Promise<void>;
}

export async function startIsola(port: number, isolation: string): Promise<IsolaUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'isola-bench-serve-'));
  const token = randomBytes(24).toString('base64url');
  const base = `http://127.0.0.1:${port}`;
  const child = startChild(process.execPath, [
    CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--admin-token', token,
    '--isolation', isolation, '--log-level', 'warn', '--drain-timeout', '2s',
    '--allow-isolation', 'inline,worker,process', // the rows "for scale" deploy the hello with each
  ], { cwd: dataDir });
  try {
    await waitReady(child, `${base}/.well-known/isola/health`);
    const admin = new AdminClient(base, token);
    await admin.deploy('hello', { route: '/hello', isolation }, await helloCgi('hello\n'));
    await admin.deploy('swap', { route: '/swap', isolation }, await helloCgi('swap 0\n'));
    await waitReady(child, `${base}/hello`, 'hello\n');
    const swaps: IsolaUnderTest['swaps'] = { done: 0, failed: 0, probes: 0, probeErrors: 0 };
    return {
      helloUrl: `${base}/hello`,
      pid: child.process.pid!,
      isolation: () => (/using worker cells instead/.test(child.stderr()) ? `worker (${isolation} fell back)` : isolation),
      swaps,
      async helloWith(other) {
        await admin.deploy(`hello-${other}`, { route: `/hello-${other}`, isolation: other }, await helloCgi('hello\n'));
        await waitReady(child, `${base}/hello-${other}`, 'hello\n');
        return `${base}/hello-${other}`;
      },
      async deploy(name, entry, bytes) {
        await admin.deploy(name, { route: `/${name}`, isolation, ...entry }, bytes);
        return `${base}/${name}`;
      },
      hotSwapEverySecond() {
        let n = 0;
        let running = true;
        let inflight: Promise<void> = Promise.resolve();
        const timer = setInterval(() => {
          inflight = (async () => {
            n += 1;
            try {
              await admin.deploy('swap', { route: '/swap', isolation }, await helloCgi(`swap ${n}\n`));
              swaps.done += 1;
            } catch (e) {
              swaps.failed += 1;
              swaps.lastError = (e as Error).message;
            }
          })();
        }, 1000);
        // One client asks the function being swapped, back to back: every answer must be some version's.
        const probing = (async () => {
          while (running) {
            swaps.probes += 1;
            try {
              const res = await fetch(`${base}/swap`);
              const body = await res.text();
              if (res.status !== 200 || !/^swap \d+\n$/.test(body)) throw new Error(`${res.status} ${JSON.stringify(body.slice(0, 60))}`);
            } catch (e) {
              swaps.probeErrors += 1;
              swaps.lastError = `/swap: ${(e as Error).message}`;
            }
          }
        })();
        return async () => {
          clearInterval(timer);
          running = false;
          await Promise.all([inflight, probing]);
        };
      },
      stop: () => child.stop(),
    };
  } catch (e) {
    await child.stop();
    throw e;
  }
}
