// A real cluster for tests and benchmarks (support/: shared by both): nats-server with JetStream (support/kv-servers.ts) and `isola serve --cluster`
// nodes as processes of their own (so a test can kill -9 one), each with its data directory and admin token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '../src/cli/admin-client.js';
import { spawn } from 'node:child_process';
import { startNats, type TestServer } from './kv-servers.js';
import { CLI } from './project-root.js';

export const TOKEN = 'cluster-test-token-0123456789';

/** A running `isola serve`: its output kept (stdout: JSON logs; stderr: the human lines). */
export interface Served {
  url: string;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL (kill -9) if still running. */
  kill(): Promise<void>;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'isola-cluster-cache-'));
process.once('exit', () => rmSync(cacheDir, { recursive: true, force: true }));

/** Runs `isola serve ARGS` in `cwd`; resolves once it listens, or rejects with its output if it exits first. */
export function serve(args: string[], cwd: string, timeoutMs = 30_000): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'info', ...args], {
    cwd, env: { ...process.env, ISOLA_CACHE_DIR: cacheDir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-2_000_000);
  };
  child.stdout.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`isola serve did not start in ${timeoutMs} ms: ${out.slice(-2000)}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      keep(d);
      const m = /^isola: serving (http:\/\/\S+)/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!, output: () => out, exited,
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`isola serve exited ${code} before listening: ${out.slice(-2000)}`), { status: code, output: out }));
    });
  });
}

export interface TestNode {
  id: string;
  dataDir: string;
  served: Served;
  url: string;
  admin: AdminClient;
  /** Starts it again (same id and data directory) after a kill. */
  restart(): Promise<void>;
}

export interface TestCluster {
  nats: TestServer;
  nodes: TestNode[];
  /** Starts one more node (`extra` flags after the cluster's). */
  addNode(id: string, extra?: string[]): Promise<TestNode>;
  close(): Promise<void>;
}

const folders: string[] = [];

export async function startNode(natsUrl: string, id: string, extra: string[] = [], dataDir?: string): Promise<TestNode> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), `isola-node-${id}-`));
  if (dataDir === undefined) folders.push(dir);
  const args = ['--cluster', natsUrl, '--node-id', id, '--data-dir', dir, '--admin-token', TOKEN, '--spare-cells', '0', '--idle-timeout', '0', ...extra];
  const served = await serve(args, dir);
  const node: TestNode = {
    id, dataDir: dir, served, url: served.url, admin: new AdminClient(served.url, TOKEN),
    restart: async () => {
      await node.served.kill();
      const again = await startNode(natsUrl, id, extra, dir);
      node.served = again.served;
      node.url = again.url;
      node.admin = again.admin;
    },
  };
  return node;
}

export async function startCluster(count: number, extra: string[] = []): Promise<TestCluster> {
  const nats = await startNats();
  const nodes: TestNode[] = [];
  try {
    // One after another: the first creates the bucket, the others find it.
    for (let i = 1; i <= count; i++) nodes.push(await startNode(nats.url, `n${i}`, extra));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.served.kill()));
    await nats.stop();
    throw e;
  }
  return {
    nats, nodes,
    addNode: async (id, more = []) => {
      const n = await startNode(nats.url, id, [...extra, ...more]);
      nodes.push(n);
      return n;
    },
    close: async () => {
      await Promise.all(nodes.map((n) => n.served.kill()));
      await nats.stop();
      for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** GET `path` on a node: status and body text (status 0 when the connection failed). */
export async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** Polls until `check` holds (or throws after `ms`, with `what`); returns how long it took. */
export async function until(what: string, check: () => Promise<boolean>, ms = 10_000, stepMs = 20): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A manifest entry for AdminClient.deploy. */
export const manifest = (route: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({ route, ...more });
