import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startServer } from './dist/src/server/index.js';
import { AdminClient } from './dist/src/cli/admin-client.js';
import { helloCgi } from './dist/bench/http/hello-cgi.js';
import { slowCgi } from './dist/bench/http/slow-cgi.js';
import { runWrk } from './dist/bench/http/wrk.js';
const dir = mkdtempSync(join(tmpdir(), 'diag-'));
const srv = await startServer({ listen: '127.0.0.1:0', dataDir: dir, logger: pino({ level: 'silent' }) });
const admin = new AdminClient(srv.url, srv.adminToken);
await admin.deploy('hello', { route: '/hello', isolation: 'process' }, await helloCgi());
await admin.deploy('sleepy', { route: '/sleepy', isolation: 'process', timeout: '5s' }, await slowCgi({ sleepMs: Number(process.argv[2] ?? 50) }));
const st = (n) => JSON.stringify(srv.orchestrator.get(n).pool);
await runWrk({ url: srv.url + '/hello', seconds: 2, connections: 4, threads: 1 });
await runWrk({ url: srv.url + '/sleepy', seconds: 2, connections: 2, threads: 1 });
console.log('warm hello', st('hello'), 'sleepy', st('sleepy'));
for (let i = 0; i < 2; i++) {
  const solo = await runWrk({ url: srv.url + '/hello', seconds: 3, connections: 4, threads: 1 });
  console.log('solo p50/p99', solo.p50Ms, solo.p99Ms, 'hello', st('hello'));
  const [m, s] = await Promise.all([runWrk({ url: srv.url + '/hello', seconds: 3, connections: 4, threads: 1 }), runWrk({ url: srv.url + '/sleepy', seconds: 3, connections: 2, threads: 1 })]);
  console.log('mixed p50/p99', m.p50Ms, m.p99Ms, 'sleepy done', s.requests, 'hello', st('hello'), 'sleepy', st('sleepy'));
}
await srv.close(2000);
