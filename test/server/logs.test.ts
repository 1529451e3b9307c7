// GET /admin/functions/:name/logs: the function's log as JSON lines, with since/tail, and follow=1 streaming
// new lines until the client goes, the function is removed, or the server drains (which it does not hold up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, type FakeServer } from './support.js';

type Record_ = { time: string; requestId: string; function: string; version: string; stream: string; text: string };

const logsOf = (s: FakeServer, name: string, query = '') =>
  fetch(`${s.srv.adminUrl}/admin/functions/${name}/logs${query}`, { headers: { authorization: `Bearer ${s.srv.adminToken}` } });
const lines = (text: string): Record_[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record_);

test('the log of a function: its requests\' stderr lines with request id and version, since and tail', async () => {
  const s = await startFake();
  try {
    await s.add('talk', '/talk', 'log:first line\nsecond line\nunfinished');
    await s.add('boom', '/boom', 'throw:TRAP');
    const answers = [await fetch(s.srv.url + '/talk'), await fetch(s.srv.url + '/talk'), await fetch(s.srv.url + '/boom')];
    const r = await logsOf(s, 'talk');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
    const all = lines(await r.text());
    const version = s.fake.get('talk')!.active!;
    assert.deepEqual(all.map((l) => [l.requestId, l.version, l.stream, l.text]), answers.slice(0, 2).flatMap((a) => {
      const id = a.headers.get('x-request-id')!;
      return [[id, version, 'stderr', 'first line'], [id, version, 'stderr', 'second line'], [id, version, 'stderr', 'unfinished']];
    }));
    assert.deepEqual(lines(await (await logsOf(s, 'talk', '?tail=2')).text()).map((l) => l.text), ['second line', 'unfinished']);
    assert.equal(lines(await (await logsOf(s, 'talk', '?since=10m')).text()).length, 6);
    assert.equal(lines(await (await logsOf(s, 'talk', `?since=${new Date(Date.now() + 60_000).toISOString()}`)).text()).length, 0);
    const boom = lines(await (await logsOf(s, 'boom')).text());
    assert.deepEqual(boom.map((l) => [l.stream, l.text]), [['isola', 'request failed (500): TRAP']]);

    const bad = await logsOf(s, 'talk', '?since=soon');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: "invalid since 'soon' (expected a number with a unit: 500ms, 2s, 1m)" });
    assert.equal((await logsOf(s, 'talk', '?tail=-1')).status, 400);
    assert.equal((await logsOf(s, 'nobody')).status, 404);
    assert.equal((await fetch(`${s.srv.url}/admin/functions/talk/logs`)).status, 401);
    assert.equal((await fetch(`${s.srv.url}/admin/functions/talk/logs`, { method: 'DELETE', headers: { authorization: `Bearer ${s.srv.adminToken}` } })).status, 405);
  } finally {
    await s.stop();
  }
});

/** Reads a streaming answer line by line. */
function reader(r: Response) {
  const stream = r.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async (): Promise<Record_ | null> => {
    for (;;) {
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        return JSON.parse(line) as Record_;
      }
      const { value, done } = await stream.read();
      if (done) return null;
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

test('follow=1: the backlog, then each new line as it is written; removing the function ends it', async () => {
  const s = await startFake();
  try {
    await s.add('talk', '/talk', 'log:hello\n');
    await fetch(s.srv.url + '/talk');
    const r = await logsOf(s, 'talk', '?follow=1');
    assert.equal(r.status, 200);
    const next = reader(r);
    assert.equal((await next())?.text, 'hello', 'the backlog first');
    const later = await fetch(s.srv.url + '/talk');
    const live = await next();
    assert.equal(live?.text, 'hello');
    assert.equal(live?.requestId, later.headers.get('x-request-id'));
    const removed = await fetch(`${s.srv.adminUrl}/admin/functions/talk`, { method: 'DELETE', headers: { authorization: `Bearer ${s.srv.adminToken}` } });
    assert.equal(removed.status, 200);
    assert.equal(await next(), null, 'the follow ends with the function');
  } finally {
    await s.stop();
  }
});

test('a drain ends the follows cleanly and at once', async () => {
  const s = await startFake();
  await s.add('talk', '/talk', 'log:hello\n');
  const r = await logsOf(s, 'talk', '?follow=1');
  const next = reader(r);
  const started = Date.now();
  await s.srv.close(10_000);
  assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms with a follow open`);
  assert.equal(await next(), null);
});
