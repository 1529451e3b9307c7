// adminListen: the admin API on a listener of its own; the main listener then has no /admin at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeModule, startFake } from './support.js';

test('with adminListen the main listener answers 404 under /admin and the admin listener serves only the admin API', async () => {
  const s = await startFake({ adminListen: '127.0.0.1:0' });
  try {
    await s.add('hello', '/hello');
    assert.notEqual(s.srv.adminUrl, s.srv.url);
    const authorization = `Bearer ${s.srv.adminToken}`;
    for (const path of ['/admin/functions', '/admin/functions/hello', '/admin']) {
      const r = await fetch(s.srv.url + path, { headers: { authorization } });
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('www-authenticate'), null, 'not even asked for a token');
    }
    const put = await fetch(s.srv.url + '/admin/functions/evil', { method: 'PUT', body: fakeModule(), headers: { authorization, 'x-isola-manifest': '{"route":"/evil"}' } });
    assert.equal(put.status, 404);
    assert.equal(s.fake.get('evil'), undefined);
    const list = await fetch(s.srv.adminUrl + '/admin/functions', { headers: { authorization } });
    assert.equal(list.status, 200);
    assert.deepEqual(((await list.json()) as { functions: Array<{ name: string }> }).functions.map((f) => f.name), ['hello']);
    assert.equal((await fetch(s.srv.adminUrl + '/admin/functions')).status, 401);
    assert.equal((await fetch(s.srv.url + '/hello')).status, 200);
    assert.equal((await fetch(s.srv.adminUrl + '/hello')).status, 404, 'no functions on the admin listener');
    assert.equal((await fetch(s.srv.adminUrl + '/.well-known/isola/health')).status, 200);
  } finally {
    await s.stop();
  }
  const same = await startFake();
  try {
    assert.equal(same.srv.adminUrl, same.srv.url, 'without adminListen the admin API is on the main listener');
  } finally {
    await same.stop();
  }
});
