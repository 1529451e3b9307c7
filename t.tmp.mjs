import { spawnCell } from './dist/src/cells/index.js';
import { readFileSync } from 'node:fs';
const iso = process.argv[2] ?? 'worker';
const cell = await spawnCell({ isolation: iso });
const h = await cell.load({ bytes: readFileSync('test/fixtures/components/http-handler.wasm'), compile: { fuel: true } });
const host = { send(op, d) {}, async call(op, d) { return new Uint8Array([0]); } };
for (let round = 0; round < 3; round++) {
  const t0 = performance.now(); let inCell = 0;
  const N = 1000;
  for (let i = 0; i < N; i++) {
    const r = await cell.invoke({ module: h, kind: 'http', args: ['GET', '/hello', 'http', 'x', 'host', 'x', 'user-agent', 'wrk'], host, limits: { timeoutMs: 5000 } });
    inCell += r.durationUs;
  }
  console.log(iso, 'per request', ((performance.now() - t0) / N * 1000).toFixed(0), 'µs; in cell', (inCell / N).toFixed(0), 'µs');
}
await cell.close();
