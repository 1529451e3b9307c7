// No head-of-line blocking in a function's pool: requests that arrive together are first queued behind one
// another in one process cell (pipelining); when the one running turns out to spin, the others are taken
// back and run in other cells, so each request of a function with a 1 s timeout is answered 504 after about
// 1 s, not after 1, 2, 3 and 4 s. Through the real server, with process cells (worker cells where no jail
// can be built).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let srv: RunningServer;
before(async () => {
  dir = tempDir('isola-hol-');
  writeFileSync(join(dir, 'isola.toml'), `
[function.spin]
source = "${fromRoot('test', 'fixtures', 'cgi', 'spin.wasm')}"
route = "/spin"
timeout = "1s"
`);
  srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), logger: pino({ level: 'silent' }) });
});
after(async () => {
  await srv.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

/** Four requests at once; each one's status and when it was answered (ms from the start). */
async function fourAtOnce(): Promise<Array<[number, number]>> {
  const t0 = performance.now();
  return Promise.all(Array.from({ length: 4 }, async (): Promise<[number, number]> => {
    const res = await fetch(`${srv.url}/spin`);
    await res.arrayBuffer();
    return [res.status, Math.round(performance.now() - t0)];
  }));
}

test('4 spinning requests to a function with a 1 s timeout all answer 504 within 1.5 s', { timeout: 60_000 }, async () => {
  // The first round also grows the pool from its one warm cell (each spawn a jailed process, slow on a loaded
  // machine); the second shows the waiting: before taking back, it answered after 1, 2, 3 and 4 s here too.
  const first = await fourAtOnce();
  const second = await fourAtOnce();
  console.log(`# 4 spinners, 1 s timeout: first round ${first.map(([, ms]) => ms).join(', ')} ms; second round ${second.map(([, ms]) => ms).join(', ')} ms`);
  for (const [status] of [...first, ...second]) assert.equal(status, 504);
  for (const [, ms] of second) assert.ok(ms < 1500, `answered after ${second.map(([, t]) => t).join(', ')} ms`);
});
