// allowed-outbound-hosts (Spin's syntax) and the host's outbound checks, attacked directly: odd IP spellings,
// userinfo, schemes, wildcards, special addresses, and a hostile DNS that maps an allowed public name to loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerMetrics } from '../../src/server/metrics.js';
import type { AddressInfo } from 'node:net';
import { addressAllowed, allowedBy, parseAllowedHost, specialAddress, unmapped } from '../../src/capabilities/wasi-http/allowed-hosts.js';
import { DEFAULT_OUTBOUND_LIMITS, OutboundBroker, type OutboundRecord } from '../../src/capabilities/wasi-http/host/outbound.js';
import type { OutboundHead } from '../../src/capabilities/wasi-http/outgoing.js';

const list = (...t: string[]) => t.map(parseAllowedHost);

test('entries parse as Spin writes them; malformed ones say why', () => {
  assert.deepEqual(parseAllowedHost('https://api.example.com'), { text: 'https://api.example.com', scheme: 'https', host: 'api.example.com', port: 443 });
  assert.equal(parseAllowedHost('http://127.0.0.1:8080').port, 8080);
  assert.equal(parseAllowedHost('*://localhost:*').port, '*');
  assert.equal(parseAllowedHost('*://localhost').port, 'default');
  assert.equal(parseAllowedHost('http://[::1]:80').host, '::1');
  for (const [bad, why] of [
    ['api.example.com', /scheme:\/\/host/], ['ftp://x.com', /http, https or \*/], ['https://u:p@x.com', /no user/],
    ['https://x.com/path', /scheme:\/\/host/], ['http://2130706433', /not a host name/], ['http://127.1', /not a host name/],
    ['http://x.com:0', /port 0/], ['http://x.com:99999', /port 99999/], ['http://exa mple.com', /not a host name/],
  ] as const) assert.throws(() => parseAllowedHost(bad), why, bad);
});

test('matching: scheme, host (exact, *.suffix, *), port (explicit, default, *)', () => {
  const l = list('https://api.example.com', 'http://*.svc.test:8080', '*://localhost:*', '*://any.test');
  assert.ok(allowedBy(l, 'https', 'api.example.com', 443));
  assert.equal(allowedBy(l, 'http', 'api.example.com', 443), null, 'scheme');
  assert.equal(allowedBy(l, 'https', 'api.example.com', 444), null, 'port');
  assert.equal(allowedBy(l, 'https', 'evil.api.example.com', 443), null, 'no implicit subdomains');
  assert.ok(allowedBy(l, 'http', 'a.svc.test', 8080));
  assert.equal(allowedBy(l, 'http', 'svc.test', 8080), null, '*.svc.test is not svc.test');
  assert.ok(allowedBy(l, 'http', 'localhost', 1234));
  assert.ok(allowedBy(l, 'https', 'localhost', 1));
  assert.ok(allowedBy(l, 'http', 'any.test', 80));
  assert.ok(allowedBy(l, 'https', 'any.test', 443));
  assert.equal(allowedBy(l, 'https', 'any.test', 80), null, '*:// without a port: the scheme\'s own default');
});

test('special addresses, IPv4-mapped IPv6 in both spellings', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '100.64.0.1']) {
    assert.notEqual(specialAddress(a), null, a);
  }
  for (const a of ['93.184.216.34', '2606:2800:220:1::1', '8.8.8.8']) assert.equal(specialAddress(a), null, a);
  assert.equal(unmapped('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(unmapped('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.ok(addressAllowed(list('http://127.0.0.1:80'), 'http', '::ffff:127.0.0.1', 80));
  assert.ok(addressAllowed(list('*://localhost:*'), 'http', '::1', 9));
  assert.equal(addressAllowed(list('http://example.com'), 'http', '127.0.0.1', 80), false);
});

async function withUpstream(fn: (port: number, hits: string[]) => Promise<void>): Promise<void> {
  const hits: string[] = [];
  const srv = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await fn((srv.address() as AddressInfo).port, hits);
  } finally {
    srv.close();
  }
}

const head = (authority: string, scheme = 'http', extra: Partial<OutboundHead> = {}): OutboundHead => ({
  method: 'GET', scheme, authority, pathWithQuery: '/x', headers: [], body: false, ...extra,
});

async function outcome(b: OutboundBroker, h: OutboundHead): Promise<string> {
  const started = b.start(h);
  if ('error' in started) return started.error.tag;
  await b.wait([{ kind: 0, id: started.id }], 5000);
  const r = b.response(started.id);
  return r === null ? 'pending' : 'error' in r ? r.error.tag : String(r.head.status);
}

test('the broker refuses before anything leaves: odd IP spellings, userinfo, schemes, names not allowed, the count cap', async () => {
  await withUpstream(async (port, hits) => {
    const records: OutboundRecord[] = [];
    const b = new OutboundBroker(list(`http://127.0.0.1:${port}`, `http://public.example:${port}`), { ...DEFAULT_OUTBOUND_LIMITS, maxRequests: 3 }, (r) => records.push(r));
    for (const a of [`2130706433:${port}`, `0x7f.0.0.1:${port}`, `127.1:${port}`, `0177.0.0.1:${port}`, `user:pw@127.0.0.1:${port}`, `127.0.0.1:${port}:1`, '']) {
      assert.equal(await outcome(b, head(a)), 'HTTP-request-URI-invalid', a);
    }
    assert.equal(await outcome(b, head(`127.0.0.1:${port}`, 'ftp')), 'HTTP-request-URI-invalid');
    assert.equal(await outcome(b, head(`[::ffff:127.0.0.1]:${port}`)), '200', 'the mapped spelling is the same allowed address');
    assert.equal(await outcome(b, head(`localhost:${port}`)), 'HTTP-request-denied', 'a name is not its address');
    assert.equal(await outcome(b, head(`127.0.0.1:${port + 1}`)), 'HTTP-request-denied');
    assert.equal(await outcome(b, head(`127.0.0.1:${port}`, 'https')), 'HTTP-request-denied');
    assert.equal(await outcome(b, head(`127.0.0.1:${port}`)), '200');
    assert.equal(await outcome(b, head(`127.0.0.1:${port}`)), '200');
    assert.equal(await outcome(b, head(`127.0.0.1:${port}`)), 'HTTP-request-denied', 'past max-outbound-requests');
    assert.equal(hits.length, 3, 'only the allowed requests reached the server');
    assert.ok(records.every((r) => r.error === undefined || r.reason !== undefined));
    b.close();
  });
});

test('DNS rebinding: an allowed name that resolves to loopback (or any special address) is refused unless that address is allowed', async () => {
  await withUpstream(async (port, hits) => {
    const hostile = async (name: string) => (name === 'public.example' ? ['93.184.216.34', '127.0.0.1'] : ['127.0.0.1']);
    const b = new OutboundBroker(list(`http://public.example:${port}`, `http://inner.example:${port}`), DEFAULT_OUTBOUND_LIMITS, () => {}, hostile);
    assert.equal(await outcome(b, head(`public.example:${port}`)), 'HTTP-request-denied', 'one bad address is enough');
    assert.equal(await outcome(b, head(`inner.example:${port}`)), 'HTTP-request-denied');
    const trusting = new OutboundBroker(list(`http://inner.example:${port}`, `http://127.0.0.1:${port}`), DEFAULT_OUTBOUND_LIMITS, () => {}, hostile);
    assert.equal(await outcome(trusting, head(`inner.example:${port}`)), '200', 'the address itself is allowed');
    assert.equal(hits.length, 1);
    assert.equal(await outcome(b, head(`public.example:${port}`, 'http', { connectTimeoutMs: 1 })), 'HTTP-request-denied');
    b.close();
    trusting.close();
  });
});

test('https: a server whose certificate the host does not trust is a TLS error for the guest, not a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const srv = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('secret'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      const records: OutboundRecord[] = [];
      const b = new OutboundBroker(list(`https://127.0.0.1:${port}`), DEFAULT_OUTBOUND_LIMITS, (r) => records.push(r));
      assert.equal(await outcome(b, head(`127.0.0.1:${port}`, 'https')), 'TLS-certificate-error');
      assert.match(records[0]!.reason ?? '', /self.signed|certificate/i);
      b.close();
    } finally {
      srv.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outbound metrics keep at most 64 host labels per function (a guest picks the hosts, even refused ones)', async () => {
  const m = new ServerMetrics(() => undefined, () => 0);
  for (let i = 0; i < 200; i++) {
    m.invocation({
      function: 'f', version: 'v', requestId: String(i), startedAt: '', durationMs: 1, fuel: '0', outcome: 'ok', status: 200, grantsUsed: [],
      outbound: [{ method: 'GET', url: `http://h${i}.example:80`, error: 'HTTP-request-denied', bytesIn: 0, bytesOut: 0, ms: 0 }],
    });
  }
  const text = await m.registry.metrics();
  const hosts = new Set([...text.matchAll(/isola_outbound_requests_total\{function="f",host="([^"]+)"/g)].map((x) => x[1]));
  assert.equal(hosts.size, 65);
  assert.ok(hosts.has('other'));
  assert.match(text, /isola_outbound_requests_total\{function="f",host="other",outcome="HTTP-request-denied"\} 136/);
});
