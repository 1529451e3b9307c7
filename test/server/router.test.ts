import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from '../../src/server/router.js';
import { parseRequestTarget } from '../../src/server/request-path.js';

const table = new Router([
  { route: '/hello', name: 'hello' },
  { route: '/users/:id', name: 'user' },
  { route: '/users/me', name: 'me' },
  { route: '/users/:id/posts/:post', name: 'post' },
  { route: '/static/...', name: 'static' },
  { route: '/static/img/...', name: 'img' },
  { route: '/...', name: 'fallback' },
]);

const m = (path: string) => table.match(parseRequestTarget(path).segments);

test('exact routes match only themselves', () => {
  assert.equal(m('/hello')?.name, 'hello');
  assert.equal(m('/hello/x')?.name, 'fallback');
  assert.equal(m('/hello/')?.name, 'fallback');
});

test(':name segments become params; a literal beats a param', () => {
  assert.deepEqual(m('/users/42')?.params, { id: '42' });
  assert.equal(m('/users/42')?.name, 'user');
  assert.equal(m('/users/me')?.name, 'me');
  assert.deepEqual(m('/users/7/posts/9'), { name: 'post', route: '/users/:id/posts/:post', params: { id: '7', post: '9' }, pathInfo: '' });
  assert.equal(m('/users/%41%20b')?.params['id'], 'A b', 'params are decoded once');
});

test('trailing /... matches the prefix and below; the longest prefix wins; pathInfo is the rest', () => {
  assert.deepEqual(m('/static'), { name: 'static', route: '/static/...', params: {}, pathInfo: '' });
  assert.equal(m('/static/a/b.css')?.pathInfo, '/a/b.css');
  assert.equal(m('/static/img/x.png')?.name, 'img');
  assert.equal(m('/static/img/x.png')?.pathInfo, '/x.png');
  assert.equal(m('/')?.name, 'fallback');
  assert.equal(m('/')?.pathInfo, '');
  assert.equal(m('/anything/else')?.pathInfo, '/anything/else');
});

test('no route → null; the order routes are given in does not matter', () => {
  const r = new Router([{ route: '/a/...', name: 'wild' }, { route: '/a/b', name: 'exact' }, { route: '/a/:x', name: 'param' }]);
  const r2 = new Router([{ route: '/a/:x', name: 'param' }, { route: '/a/b', name: 'exact' }, { route: '/a/...', name: 'wild' }]);
  for (const router of [r, r2]) {
    assert.equal(router.match(parseRequestTarget('/b').segments), null);
    assert.equal(router.match(parseRequestTarget('/a/b').segments)?.name, 'exact');
    assert.equal(router.match(parseRequestTarget('/a/c').segments)?.name, 'param');
    assert.equal(router.match(parseRequestTarget('/a/c/d').segments)?.name, 'wild');
    assert.equal(router.match(parseRequestTarget('/a').segments)?.name, 'wild');
  }
});

test('a :param never matches an empty segment', () => {
  assert.equal(new Router([{ route: '/u/:id', name: 'u' }]).match(parseRequestTarget('/u/').segments), null);
});

test('bad or reserved routes are refused when the table is built', () => {
  for (const route of ['/admin', '/admin/x', '/metrics', '/.well-known/isola/...', 'nope', '/a/../b', '/a/.../b']) {
    assert.throws(() => new Router([{ route, name: 'x' }]), (e: Error & { code?: string }) => e.code === 'MANIFEST', route);
  }
});

test('request paths: decoded once, query split off, raw path kept', () => {
  const p = parseRequestTarget('/a%2520b/c?x=1&y=%20');
  assert.equal(p.path, '/a%20b/c');
  assert.equal(p.rawPath, '/a%2520b/c');
  assert.equal(p.query, 'x=1&y=%20');
});

test('traversal: dot segments, encoded dots and encoded slashes are refused, never resolved', () => {
  for (const target of ['/a/../admin', '/a/./b', '/%2e%2e/admin', '/a/%2E%2e', '/.%2e/x', '/static%2f..%2fadmin', '/a%2Fb', '/a%5cb', '/a%00b', '/bad%zz', '/a%', '..', '*']) {
    assert.throws(() => parseRequestTarget(target), (e: Error & { code?: string }) => e.code === 'USAGE' && e.message.startsWith('bad request path'), target);
  }
});

test('set() follows one function: a new route, a route of another kind, none; the rest of the table is untouched', () => {
  const r = new Router([{ route: '/a', name: 'a' }, { route: '/items/:id', name: 'items' }, { route: '/...', name: 'fallback' }]);
  const at = (path: string) => r.match(parseRequestTarget(path).segments)?.name;
  r.set('a', '/b');
  assert.equal(at('/b'), 'a');
  assert.equal(at('/a'), 'fallback', 'the old route is gone');
  r.set('a', '/items/special');
  assert.equal(at('/items/special'), 'a', 'a literal still beats the param route');
  assert.equal(at('/items/7'), 'items');
  r.set('items', '/items/:id/...');
  assert.equal(at('/items/7/x'), 'items');
  r.set('a', undefined);
  assert.equal(at('/items/special'), 'items', 'removed: the param route answers');
  r.set('new', '/');
  assert.equal(at('/'), 'new');
  assert.throws(() => r.set('bad', 'no-slash'), /route/);
  assert.equal(at('/'), 'new', 'a refused route changes nothing');
});
