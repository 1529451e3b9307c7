import { startIsola } from './dist/bench/http/isola.js';
import { freePort } from './dist/bench/http/servers.js';
import { headOfLineRow, neighbourRow } from './dist/bench/http/pool-figures.js';
import { runWrk } from './dist/bench/http/wrk.js';
const port = await freePort();
const isola = await startIsola(port, 'process');
try {
  await runWrk({ url: isola.helloUrl, seconds: 2, connections: 4, threads: 1 });
  const which = process.argv[2] ?? 'all';
  if (which === 'all' || which === 'hol') console.log(await headOfLineRow(isola, 3));
  const fc = Number(process.argv[3] ?? 4), sc = Number(process.argv[4] ?? 2);
  if (which === 'all' || which === 'busy') console.log(await neighbourRow(isola, isola.helloUrl, { busyMs: 50 }, { seconds: 3, rounds: 3, fastConnections: fc, slowConnections: sc }));
  if (which === 'all' || which === 'sleep') console.log(await neighbourRow(isola, isola.helloUrl, { sleepMs: 50 }, { seconds: 3, rounds: 3, fastConnections: fc, slowConnections: sc }));
} finally { await isola.stop(); }
