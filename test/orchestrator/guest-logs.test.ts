// A function's log gets its guest's stderr as the cell streams it: what a guest wrote before it was stopped
// (a timeout, a trap, its cell killed) is in the log, then the line saying why the request failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openOrchestrator } from '../../src/orchestrator/orchestrator.js';
import type { Isolation } from '../../src/cells/types.js';
import { cgi, never, request, spec, tempDir } from './helpers.js';

const WRITTEN = ['handling a request', 'not utf-8: \uFFFD!', 'no newline at the end'];

for (const isolation of ['inline', 'worker', 'process'] as Isolation[]) {
  test(`${isolation} cells: stderr written before a timeout reaches the log, then the failure`, { timeout: 60_000 }, async () => {
    const dir = tempDir('guest-logs');
    const o = await openOrchestrator({ dataDir: dir.path });
    try {
      await o.deploy(spec('talk', { isolation, limits: { timeoutMs: 400 } }), cgi('stderr'));
      await assert.rejects(o.handle('talk', request({ query: 'spin' }), never), { code: 'TIMEOUT' });
      await o.handle('talk', request(), never);
      const lines = o.logs.read('talk').map((r) => [r.stream, r.text]);
      assert.deepEqual(lines, [
        ...WRITTEN.map((t) => ['stderr', t]),
        ['isola', 'request failed (504): timed out after 400ms'],
        ...WRITTEN.map((t) => ['stderr', t]),
      ]);
    } finally {
      await o.close(2000);
      dir.remove();
    }
  });
}
