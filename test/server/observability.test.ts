// /metrics content and the JSON log lines after some requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, type FakeServer } from './support.js';

let s: FakeServer;
before(async () => {
  s = await startFake();
  await s.add('hello', '/hello');
  await s.add('trap', '/trap', 'throw:TRAP');
  for (let i = 0; i < 3; i++) await (await fetch(s.srv.url + '/hello')).text();
  await (await fetch(s.srv.url + '/trap')).text();
  await (await fetch(s.srv.url + '/missing')).text();
});
after(() => s.stop());

test('/metrics: requests by function/version/status, latency, invocations by outcome, fuel, cells', async () => {
  const r = await fetch(s.srv.url + '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await r.text();
  const version = s.fake.get('hello')!.active!;
  assert.match(text, new RegExp(`isola_http_requests_total\\{function="hello",version="${version}",status="200"\\} 3\\n`));
  assert.match(text, /isola_http_requests_total\{function="trap",version="[0-9a-f]{16}",status="500"\} 1\n/);
  // Requests that reach no function count under one fixed label, never function="" (= no label to Prometheus).
  assert.match(text, /isola_http_requests_total\{function="\(none\)",version="",status="404"\} 1\n/);
  assert.match(text, /isola_http_request_duration_seconds_count\{function="\(none\)"\} 1\n/);
  assert.doesNotMatch(text, /function=""/);
  assert.match(text, /isola_http_connections [1-9]\d*\n/, 'open connections, this scrape\'s included');
  assert.match(text, /isola_http_request_duration_seconds_count\{function="hello"\} 3\n/);
  assert.match(text, new RegExp(`isola_invocations_total\\{function="hello",version="${version}",outcome="ok"\\} 3\\n`));
  assert.match(text, /isola_invocations_total\{function="trap",version="[0-9a-f]{16}",outcome="trap"\} 1\n/);
  assert.match(text, new RegExp(`isola_fuel_consumed_total\\{function="hello",version="${version}"\\} 3702\\n`));
  assert.match(text, /isola_cells\{function="hello",state="alive"\} 1\n/);
  assert.match(text, /isola_pool_events\{function="hello",event="spawned"\} 1\n/);
  assert.match(text, /isola_pool_events\{function="hello",event="taken_back"\} 0\n/);
});

test('a metrics registry of its own: two servers in one process do not share counts', async () => {
  const other = await startFake();
  try {
    const text = await (await fetch(other.srv.url + '/metrics')).text();
    assert.doesNotMatch(text, /function="hello"/);
  } finally {
    await other.stop();
  }
});

test('one JSON request line per request and one audit line per invocation', async () => {
  const requests = s.log.find('request');
  assert.ok(requests.length >= 5);
  const hello = requests.filter((l) => l['function'] === 'hello');
  assert.equal(hello.length, 3);
  for (const l of hello) {
    assert.equal(l['status'], 200);
    assert.equal(l['method'], 'GET');
    assert.equal(typeof l['ms'], 'number');
    assert.equal(typeof l['reqId'], 'string');
  }
  const audits = s.log.find('invocation').map((l) => l['audit'] as Record<string, unknown>);
  assert.equal(audits.filter((a) => a['function'] === 'hello').length, 3);
  const trap = audits.find((a) => a['function'] === 'trap')!;
  assert.equal(trap['outcome'], 'trap');
  assert.deepEqual(Object.keys(trap).sort(), ['detail', 'durationMs', 'fuel', 'function', 'grantsUsed', 'outcome', 'requestId', 'startedAt', 'status', 'version']);
  // The audit line and the request line share the request id.
  assert.ok(requests.some((l) => l['reqId'] === trap['requestId'] && l['status'] === 500));
});
