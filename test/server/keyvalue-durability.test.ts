// Nothing acknowledged is lost: a guest's `set` that returned (its response reached the client) survives kill -9
// of the server a moment later, with the embedded store (LMDB under the data directory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';

const OPS = fromRoot('test', 'fixtures', 'cgi', 'kv-ops.wasm');

/** `isola serve` in a child process; resolves with its URL once it serves. */
function serve(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fromRoot('bin', 'isola.js'), 'serve', '--listen', '127.0.0.1:0', '--log-level', 'silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`isola serve did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.on('exit', (code) => reject(new Error(`isola serve exited ${code}: ${err}`)));
  });
}

test('every set a guest was answered for survives kill -9 of the server', { timeout: 120_000 }, async () => {
  const dir = tempDir('isola-kv-durable-');
  try {
    writeFileSync(join(dir, 'isola.toml'), `[function.ops]\nsource = "${OPS}"\nroute = "/ops/..."\nkey-value-stores = ["default"]\nmax-concurrency = 8\n`);
    const first = await serve(dir);
    const acked: string[] = [];
    // Eight writers at once, and the kill lands while some of their sets are still in flight.
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-${i}`;
        try {
          const r = await fetch(`${first.url}/ops/set?key=${key}`, { method: 'POST', body: `value of ${key}` });
          if (r.status === 200 && (await r.text()) === 'ok\n') acked.push(key);
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acked.length < 300) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    if (first.child.exitCode === null && first.child.signalCode === null) await new Promise((r) => first.child.once('exit', r));
    const again = await serve(dir);
    try {
      const missing: string[] = [];
      for (const key of acked) {
        const r = await fetch(`${again.url}/ops/get?key=${key}`);
        if ((await r.text()) !== `value of ${key}`) missing.push(key);
      }
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged sets were lost`);
    } finally {
      again.child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
