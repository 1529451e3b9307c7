// Deploy while serving: versions swapped over the admin API under load; no request fails because of a swap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startServer } from '../../src/server/index.js';
import { load } from './load.js';

const CGI = (name: string): Buffer => readFileSync(fromRoot('test', 'fixtures', 'cgi', `${name}.wasm`));

test('hot swap under load: every request answered 200 while versions switch', { timeout: 60_000 }, async () => {
  const dir = tempDir('isola-swap-');
  const srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), defaultIsolation: 'worker', logger: pino({ level: 'silent' }) });
  try {
    const modules = [CGI('hello'), CGI('counter')];
    const deploy = async (i: number) => {
      const r = await fetch(`${srv.url}/admin/functions/swap`, {
        method: 'PUT',
        body: modules[i % 2],
        headers: { authorization: `Bearer ${srv.adminToken}`, 'x-isola-manifest': JSON.stringify({ route: '/swap' }) },
      });
      assert.equal(r.status, 201, await r.text());
    };
    await deploy(0);
    let swaps = 0;
    let stop = false;
    const swapper = (async () => {
      while (!stop) {
        await deploy(++swaps);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const result = await load(`${srv.url}/swap`, 4, 3000);
    stop = true;
    await swapper;
    assert.ok(swaps >= 3, `only ${swaps} swaps happened`);
    assert.ok(result.ok > 50, `only ${result.ok} requests answered`);
    assert.equal(result.other + result.errors, 0, `${result.other} non-2xx and ${result.errors} failed requests among ${result.ok} during ${swaps} swaps`);
    // Both versions answered: hello's greeting, and counter's request number (one line of digits).
    const bodies = [...result.bodies.keys()];
    assert.ok(bodies.includes('hello from isola\n'), `the first version never answered: ${bodies.slice(0, 5).join(' | ')}`);
    assert.ok(bodies.some((b) => /^\d+\n$/.test(b)), `the second version never answered: ${bodies.slice(0, 5).join(' | ')}`);
    assert.ok(bodies.every((b) => b === 'hello from isola\n' || /^\d+\n$/.test(b)), `an answer from neither version: ${bodies.join(' | ')}`);
    const summary = srv.orchestrator.get('swap')!;
    assert.equal(summary.versions.length, 2, 'content-addressed: two modules, two versions');
  } finally {
    await srv.close(2000);
    rmSync(dir, { recursive: true, force: true });
  }
});
