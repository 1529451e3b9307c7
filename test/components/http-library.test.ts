// wasi:http in the library, in this thread: serveHttpRequest with the WAT handler, the Fields rules, pooled
// memories given back by release() and unusable after, WASI 0.2 unusable after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../helpers/root.js';
import { Engine, serveHttpRequest, WasiP2, type HeadOrError } from '../../src/index.js';
import { Fields } from '../../src/capabilities/wasi-http/index.js';
import type { ComponentInstance } from '../../src/engine/component/compiled-component.js';

const engine = new Engine({ cacheDir: null });
const handler = engine.compileComponent(readFileSync(fromRoot('test', 'fixtures', 'components', 'http-handler.wasm')), { fuel: true, reuseMemory: true });

async function serve(path: string, body = new Uint8Array(0), method = 'GET') {
  const c = await handler;
  let head: HeadOrError | undefined;
  const chunks: Buffer[] = [];
  let instance: ComponentInstance | undefined;
  const handled = serveHttpRequest(c, { method, pathWithQuery: path, scheme: 'http', authority: 'example.test', headers: [['x-a', 'b']], body },
    {}, { head: (h) => (head = h), body: (b) => chunks.push(Buffer.from(b)) }, 1 << 20, { timeoutMs: 2000 }, (i) => (instance = i));
  return { head, body: Buffer.concat(chunks).toString(), trailers: handled.trailers, instance: instance! };
}

test('a request in this thread: head, body, echo, trailers', async () => {
  const h = await serve('/hello?q=1');
  assert.deepEqual(h.head, { status: 200, headers: [['content-type', 'text/plain'], ['x-path', '/hello?q=1'], ['x-method', 'GET']] });
  assert.equal(h.body, 'hello from wasi:http\n');
  assert.equal((await serve('/echo', Buffer.from('abc'), 'PUT')).body, 'abc');
  assert.deepEqual((await serve('/r')).trailers, [['x-trailer', 'done']]);
});

test('a released instance gives its memory back and refuses calls; the next one starts zeroed', async () => {
  const { instance } = await serve('/hello');
  instance.release();
  instance.release(); // twice is harmless
  const name = (await handler).exports.find(([n]) => n.startsWith('wasi:http/incoming-handler'))![0];
  const iface = instance.exports[name] as { handle: (...a: unknown[]) => unknown };
  assert.throws(() => iface.handle(null, null), /released/);
  for (let i = 0; i < 5; i++) assert.equal((await serve('/echo', Buffer.from(`n${i}`))).body, `n${i}`);
});

test('fields: tokens only, no CR/LF/NUL in values, hop-by-hop names forbidden, given fields immutable', () => {
  const f = new Fields();
  f.append('X-Ok', Buffer.from('v'));
  assert.deepEqual(f.get('x-ok').map((b) => Buffer.from(b).toString()), ['v']);
  const tag = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return (e as { payload: { tag: string } }).payload.tag;
    }
    return 'accepted';
  };
  assert.equal(tag(() => f.append('bad name', Buffer.from('v'))), 'invalid-syntax');
  assert.equal(tag(() => f.append('x', Buffer.from('a\r\nb: c'))), 'invalid-syntax');
  assert.equal(tag(() => f.append('x', Buffer.from([0]))), 'invalid-syntax');
  for (const n of ['connection', 'Transfer-Encoding', 'upgrade', 'keep-alive', 'te', 'proxy-authorization']) assert.equal(tag(() => f.set(n, [Buffer.from('x')])), 'forbidden', n);
  assert.equal(tag(() => f.append('host', Buffer.from('h'))), 'accepted', 'a guest may copy a request\'s headers whole');
  assert.equal(tag(() => f.append('x', Buffer.alloc(70 * 1024, 0x61))), 'invalid-syntax', 'past 64 KiB of fields');
  const given = Fields.fromHost([['a', 'b']]);
  assert.equal(tag(() => given.append('c', Buffer.from('d'))), 'immutable');
  assert.equal(tag(() => given.delete('a')), 'immutable');
});

test('WASI 0.2 refuses to be used after close (its scratch memory may serve another guest by then)', () => {
  const w = new WasiP2({ env: { A: 'b' } });
  const env = w.imports['wasi:cli/environment'] as { getEnvironment: () => unknown };
  assert.deepEqual(env.getEnvironment(), [['A', 'b']]);
  w.close();
  assert.throws(() => env.getEnvironment(), /after its guest was closed/);
});
