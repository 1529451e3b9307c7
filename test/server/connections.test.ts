// Attacks on the connection layer with raw sockets that never read and never close: every connection the
// server is done with is released within a bound, a stalled write is dropped after the send timeout (with
// the response it pinned), and connections past the cap are refused while the others keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startFake } from './support.js';
import { until } from '../helpers/until.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client that sends `payload` (optionally then its FIN) and then never reads nor closes. */
function silent(url: string, payload: string, opts: { halfClose?: boolean } = {}): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      if (payload) s.write(payload);
      if (opts.halfClose) s.end();
      resolve(s);
    });
    s.pause();
    s.on('error', () => {}); // the server resets what it drops
    s.once('error', reject);
  });
}

/** Reads what arrives on a fresh connection after `request` until `done(text)` or the server closes. */
function exchange(socket: Socket, request: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (done(text)) finish();
    };
    const finish = (): void => {
      socket.off('data', onData);
      socket.off('close', finish);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('close', finish);
    socket.write(request);
  });
}

function open(url: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

const oneResponse = (t: string): boolean => {
  const end = t.indexOf('\r\n\r\n');
  const length = /content-length: (\d+)/i.exec(t);
  return end >= 0 && length !== null && t.length >= end + 4 + Number(length[1]);
};

test('connections that never read nor close are all released within a bound', async () => {
  const s = await startFake({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, sendTimeoutMs: 500 });
  const sockets: Socket[] = [];
  try {
    await s.add('echo', '/echo');
    const each = 20;
    for (let i = 0; i < each; i++) {
      sockets.push(
        await silent(s.srv.url, ''), // says nothing at all: 408
        await silent(s.srv.url, 'GET /echo HTTP/1.1\r\n'), // half a request: 408 (the case of the issue)
        await silent(s.srv.url, 'HELLO THERE\r\n\r\n'), // garbage: 400
        await silent(s.srv.url, 'GET /echo HTTP/1.1\r\nhost: x\r\n\r\n'), // answered, then idle on keep-alive
        await silent(s.srv.url, 'GET /echo HTTP/1.1\r\nhost: x\r\n\r\n', { halfClose: true }), // half-open
        await silent(s.srv.url, 'GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'), // answered with close
      );
    }
    await until(() => s.srv.openConnections() === 6 * each, 'every connection open', 2000).catch(() => {}); // some may be gone already
    assert.ok(s.srv.openConnections() > 0, 'the silent connections were accepted');
    // Header timeout (300 ms, checked every 75 ms), then at most LINGER_MS (2 s) for the client's FIN.
    const took = await until(() => s.srv.openConnections() === 0, 'every connection closed', 6000).catch(() => -1);
    assert.ok(took >= 0, `${s.srv.openConnections()} of ${6 * each} connections still open after 6 s`);
    // The server still serves.
    assert.equal((await fetch(s.srv.url + '/echo')).status, 200);
  } finally {
    for (const sock of sockets) sock.destroy();
    await s.stop();
  }
});

test('clients that stop reading large responses are dropped after the send timeout, and the responses freed', async () => {
  const s = await startFake({ sendTimeoutMs: 400 });
  const sockets: Socket[] = [];
  try {
    await s.add('big', '/big', `big:${8 * MiB}`);
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 8; i++) sockets.push(await silent(s.srv.url, 'GET /big HTTP/1.1\r\nhost: x\r\n\r\n'));
    await until(() => process.memoryUsage().arrayBuffers - baseline > 48 * MiB, '48 MiB buffered for the slow reader', 3000);
    const pinned = process.memoryUsage().arrayBuffers - baseline;
    assert.equal(s.srv.openConnections(), 8);
    const took = await until(() => s.srv.openConnections() === 0, 'every connection closed', 4000).catch(() => -1);
    assert.ok(took >= 0, `${s.srv.openConnections()} stalled connections still open 4 s after a 400 ms send timeout`);
    let left = Infinity;
    for (let i = 0; i < 20 && left >= 8 * MiB; i++) {
      await sleep(50);
      gc();
      left = process.memoryUsage().arrayBuffers - baseline;
    }
    assert.ok(left < 8 * MiB, `responses still held: ${(left / MiB).toFixed(1)} MiB (${(pinned / MiB).toFixed(1)} MiB while stalled)`);
    assert.ok(s.log.find('send timeout: the client stopped reading').length >= 8);
  } finally {
    for (const sock of sockets) sock.destroy();
    await s.stop();
  }
});

test('a slow reader that keeps reading gets the whole response, however long it takes past the send timeout', async () => {
  const s = await startFake({ sendTimeoutMs: 400 });
  try {
    const size = 24 * MiB;
    await s.add('big', '/big', `big:${size}`);
    const sock = await open(s.srv.url);
    sock.pause();
    let received = 0;
    let headerSeen = false;
    sock.on('data', (d: Buffer) => {
      if (!headerSeen) {
        const end = d.indexOf('\r\n\r\n');
        if (end < 0) return;
        headerSeen = true;
        d = d.subarray(end + 4);
      }
      received += d.length;
      if (received % (2 * MiB) < d.length) sock.pause(); // take about 2 MiB, then rest
    });
    sock.write('GET /big HTTP/1.1\r\nhost: x\r\n\r\n');
    const started = Date.now();
    const tick = setInterval(() => sock.resume(), 150);
    try {
      await until(() => received >= size || sock.destroyed, 'the whole body received, or the socket closed', 30_000);
    } finally {
      clearInterval(tick);
      sock.destroy();
    }
    assert.equal(received, size, `got ${received} of ${size} bytes in ${Date.now() - started} ms`);
    assert.ok(Date.now() - started > 800, 'the read took longer than the send timeout (else this proves nothing)');
  } finally {
    await s.stop();
  }
});

test('past --max-connections new connections get 503 and close; the open ones keep working', async () => {
  const s = await startFake({ maxConnections: 3 });
  const held: Socket[] = [];
  try {
    await s.add('echo', '/echo');
    const get = 'GET /echo HTTP/1.1\r\nhost: x\r\n\r\n';
    for (let i = 0; i < 3; i++) {
      const sock = await open(s.srv.url);
      held.push(sock);
      assert.match(await exchange(sock, get, oneResponse), /^HTTP\/1\.1 200 /);
    }
    const extra = await open(s.srv.url);
    const refused = await exchange(extra, get, () => false); // until the server closes it
    assert.match(refused, /^HTTP\/1\.1 503 /);
    assert.match(refused, /connection: close/i);
    assert.match(refused, /retry-after: 1/i);
    assert.match(refused, /too many connections/);
    for (const sock of held) assert.match(await exchange(sock, get, oneResponse), /^HTTP\/1\.1 200 /, 'existing connections still served');
    held.pop()!.destroy();
    await until(() => s.srv.openConnections() < 3, 'fewer than 3 connections open', 2000);
    const next = await open(s.srv.url);
    held.push(next);
    assert.match(await exchange(next, get, oneResponse), /^HTTP\/1\.1 200 /, 'a freed slot is used again');
    // A flood past the cap holds no more than the cap plus a bounded overflow (the rest is closed at accept).
    const flood: Socket[] = [];
    for (let i = 0; i < 100; i++) flood.push(await silent(s.srv.url, ''));
    await sleep(100);
    assert.ok(s.srv.openConnections() <= 3 + 64, `${s.srv.openConnections()} open`);
    for (const sock of flood) sock.destroy();
  } finally {
    for (const sock of held) sock.destroy();
    await s.stop();
  }
});
