// The CGI executor's two halves: the environment a request becomes, and the response a guest's stdout becomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/errors.js';
import { cgiEnvironment, headerNameCacheSize, HTTP_NAME_CACHE_MAX, remainderAfterRoute } from '../../src/orchestrator/executors/cgi-env.js';
import { MAX_HEADER_BLOCK, parseCgiOutput } from '../../src/orchestrator/executors/cgi-response.js';
import { request, spec, text } from './helpers.js';

const out = (s: string) => parseCgiOutput(new TextEncoder().encode(s));

test('headers with \\n or \\r\\n, a blank line, then the body (which may itself contain blank lines and colons)', () => {
  for (const nl of ['\n', '\r\n']) {
    const r = out(`Content-Type: text/html${nl}X-A:  spaced value  ${nl}${nl}<p>a: b${nl}${nl}c</p>`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers, [['content-type', 'text/html'], ['x-a', 'spaced value']]);
    assert.equal(text(r.body), `<p>a: b${nl}${nl}c</p>`);
  }
});

test('status with or without a reason; location alone is a 302; content-type defaults to text/plain', () => {
  assert.equal(out('Status: 404\n\nnope').status, 404);
  assert.equal(out('status: 418 I\'m a teapot\ncontent-type: text/plain\n\n').status, 418);
  const redirect = out('Location: /elsewhere\n\n');
  assert.equal(redirect.status, 302);
  assert.deepEqual(redirect.headers, [['location', '/elsewhere']]);
  assert.equal(out('Status: 301\nLocation: https://example.com/\n\n').status, 301);
  const plain = out('x-only: 1\n\nbody');
  assert.deepEqual(plain.headers, [['x-only', '1'], ['content-type', 'text/plain; charset=utf-8']]);
});

test('hop-by-hop headers, content-length and x-isola-* from the guest are dropped; repeated headers are kept', () => {
  const r = out('Connection: close\nTransfer-Encoding: chunked\nKeep-Alive: 5\nUpgrade: h2c\nContent-Length: 999\n'
    + 'X-Isola-Error: forged\nSet-Cookie: a=1\nSet-Cookie: b=2\ncontent-type: text/plain\n\nok');
  assert.deepEqual(r.headers, [['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-type', 'text/plain']]);
  assert.equal(text(r.body), 'ok');
});

test('output without a header block is all body: 200 text/plain (also empty output)', () => {
  for (const body of ['just a body\n', 'no colon here\nx: y\n\n', '', '\nleading blank line', ': empty name\n\n', '{"json": 1}']) {
    const r = out(body);
    assert.equal(r.status, 200, body);
    assert.deepEqual(r.headers, [['content-type', 'text/plain; charset=utf-8']]);
    assert.equal(text(r.body), body);
  }
});

test('a malformed header block is BAD_RESPONSE with the reason', () => {
  const bad = (s: string | Uint8Array, re: RegExp) => assert.throws(() => (typeof s === 'string' ? out(s) : parseCgiOutput(s)),
    (e: unknown) => e instanceof IsolaError && e.code === 'BAD_RESPONSE' && re.test(e.message) && !e.message.includes('\n'));
  bad('content-type: text/plain\n', /header block not ended by a blank line/);
  bad('content-type: text/plain', /header block not ended by a blank line/);
  bad('content-type: text/plain\nthis is not a header\n\nbody', /line 2 is not "name: value"/);
  bad('Status: abc\n\n', /line 1: expected one "Status: NNN/);
  bad('Status: 600\n\n', /Status: NNN/);
  bad('Status: 99\n\n', /Status: NNN/);
  bad('Status: 200\nStatus: 404\n\n', /line 2: expected one "Status/);
  bad('Status: 103\n\n', /informational status 103/);
  bad('Status: 101\n\n', /status 101/);
  bad('x-a: b\x01c\n\n', /line 1 has control characters/);
  bad(`x-a: ${'v'.repeat(MAX_HEADER_BLOCK)}\n\n`, /header block longer than 65536 bytes/);
  bad(`x-a: ${'v'.repeat(MAX_HEADER_BLOCK)}`, /header block longer than 65536 bytes/);
});

test('CGI variables: RFC 3875 + WAGI names, params, headers sanitised, credentials and httpoxy withheld, CGI names win', () => {
  const env = cgiEnvironment(request({
    method: 'PUT', path: '/api/v1/items/a b', rawPath: '/api/v1/items/a%20b', query: 'q=1&r', route: '/api/:version/...',
    params: { version: 'v1' }, pathInfo: '/items/a b',
    headers: {
      host: 'example.com:8080', 'content-type': 'application/json', 'content-length': '2', 'x-request-id': 'r1',
      authorization: 'Bearer secret', 'proxy-authorization': 'x', proxy: 'http://evil', 'proxy-foo': '1', 'x_under': 'u', 'accept-language': 'en',
    },
    body: new TextEncoder().encode('{}'), remoteAddr: '10.0.0.7', serverName: 'example.com', serverPort: 8080,
  }), spec('api', { env: { GREETING: 'hi', REQUEST_METHOD: 'forged', PATH: '/usr/bin' } }));
  assert.deepEqual(env, {
    GREETING: 'hi', PATH: '/usr/bin',
    HTTP_HOST: 'example.com:8080', HTTP_X_REQUEST_ID: 'r1', HTTP_ACCEPT_LANGUAGE: 'en',
    X_PARAM_VERSION: 'v1',
    GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: env.SERVER_SOFTWARE, SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'example.com', SERVER_PORT: '8080', REQUEST_METHOD: 'PUT',
    SCRIPT_NAME: '/api/v1', PATH_INFO: '/items/a b', PATH_TRANSLATED: '/items/a b', QUERY_STRING: 'q=1&r',
    REMOTE_ADDR: '10.0.0.7', REMOTE_HOST: '10.0.0.7', CONTENT_LENGTH: '2', CONTENT_TYPE: 'application/json',
    X_FULL_URL: 'http://example.com:8080/api/v1/items/a%20b?q=1&r', X_MATCHED_ROUTE: '/api/:version/...', X_RAW_PATH_INFO: '/items/a%20b',
  });
  assert.match(env.SERVER_SOFTWARE!, /^isola\/\d+\.\d+\.\d+/);
});

test('an exact route has SCRIPT_NAME = the path and an empty PATH_INFO; https is flagged', () => {
  const env = cgiEnvironment(request({ path: '/hello', route: '/hello', pathInfo: '', scheme: 'https' }), spec('hello'));
  assert.equal(env.SCRIPT_NAME, '/hello');
  assert.equal(env.PATH_INFO, '');
  assert.equal(env.X_RAW_PATH_INFO, '');
  assert.equal(env.HTTPS, 'on');
  assert.equal(env.X_FULL_URL, 'https://localhost:3000/hello');
  assert.equal(env.CONTENT_TYPE, undefined);
  assert.equal(env.CONTENT_LENGTH, '0');
});

test('remainderAfterRoute', () => {
  assert.equal(remainderAfterRoute('/...', '/a/b'), '/a/b');
  assert.equal(remainderAfterRoute('/a/...', '/a'), '');
  assert.equal(remainderAfterRoute('/a/...', '/a/b/c'), '/b/c');
  assert.equal(remainderAfterRoute('/a/:x/...', '/a/1/%2e'), '/%2e');
  assert.equal(remainderAfterRoute('/a/b', '/a/b'), '');
});

test('CGI variables keep their order: granted env, HTTP_* in header order, X_PARAM_*, then the CGI names', () => {
  const headers: Record<string, string> = Object.create(null);
  Object.assign(headers, { 'x-b': '2', host: 'h', 'content-type': 'text/plain', 'x-a': '1' });
  const env = cgiEnvironment(request({ headers, params: { id: '7' }, route: '/x/:id' }), spec('x', { env: { Z: 'z', QUERY_STRING: 'forged', A: 'a' } }));
  assert.deepEqual(Object.keys(env), [
    'Z', 'QUERY_STRING', 'A', 'HTTP_X_B', 'HTTP_HOST', 'HTTP_X_A', 'X_PARAM_ID',
    'GATEWAY_INTERFACE', 'SERVER_SOFTWARE', 'SERVER_PROTOCOL', 'SERVER_NAME', 'SERVER_PORT', 'REQUEST_METHOD',
    'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED', 'REMOTE_ADDR', 'REMOTE_HOST', 'CONTENT_LENGTH',
    'X_FULL_URL', 'X_MATCHED_ROUTE', 'X_RAW_PATH_INFO', 'CONTENT_TYPE',
  ]);
  assert.equal(env.QUERY_STRING, '');
  assert.equal(Object.getPrototypeOf(env), Object.prototype);
});

test('a granted env var named __proto__ is a variable like any other, not a prototype', () => {
  const granted = JSON.parse('{"__proto__": "x", "B": "b"}') as Record<string, string>;
  const env = cgiEnvironment(request(), spec('x', { env: granted }));
  assert.equal(Object.getPrototypeOf(env), Object.prototype);
  assert.ok(Object.hasOwn(env, '__proto__'));
  assert.deepEqual(Object.keys(env).slice(0, 2), ['__proto__', 'B']);
  assert.equal(Object.getOwnPropertyDescriptor(env, '__proto__')!.value, 'x');
});

test('header names: a flood of unusual names is still translated and filtered right (the name cache is bounded)', () => {
  for (let round = 0; round < 3; round++) {
    const headers: Record<string, string> = Object.create(null);
    for (let i = 0; i < 700; i++) headers[`x-r${round}-${i}`] = String(i);
    Object.assign(headers, {
      'x_under': 'u', 'proxy-new': 'p', [`proxy-r${round}`]: 'p', authorization: 'secret', 'x-custom-thing': 'c', 'ünï': 'u', 'Upper': 'u',
    });
    const env = cgiEnvironment(request({ headers }), spec('x'));
    assert.equal(env[`HTTP_X_R${round}_0`], '0');
    assert.equal(env[`HTTP_X_R${round}_699`], '699');
    assert.equal(env.HTTP_X_CUSTOM_THING, 'c');
    const http = Object.keys(env).filter((k) => k.startsWith('HTTP_'));
    assert.equal(http.length, 701, `round ${round}`);
    assert.ok(!http.some((k) => /PROXY|AUTHORIZATION|UNDER|UPPER|Ü/i.test(k)), http.join(' '));
    assert.ok(headerNameCacheSize() <= HTTP_NAME_CACHE_MAX, `cache holds ${headerNameCacheSize()} names`);
  }
  assert.equal(headerNameCacheSize(), HTTP_NAME_CACHE_MAX);
});
