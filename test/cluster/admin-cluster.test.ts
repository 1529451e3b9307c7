// The cluster on the admin API and the CLI, with a fake ClusterAdminApi: GET /admin/cluster (404 with one line
// when not in a cluster), `isola cluster status` (table, --json, one-line error), and logs from every node
// (a read asks the cluster, each line prefixed with its node; a follow stays local).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { handleAdmin, type AdminContext } from '../../src/server/admin.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { parseRequestTarget } from '../../src/server/request-path.js';
import { parseFunctionEntry } from '../../src/orchestrator/manifest.js';
import type { GrantPolicy } from '../../src/orchestrator/grant-policy.js';
import type { KvStores } from '../../src/capabilities/keyvalue/host/stores.js';
import type { ClusterAdminApi, NodeLogRecord, NodeStatus } from '../../src/cluster/types.js';
import type { LogQuery } from '../../src/orchestrator/types.js';
import { formatClusterStatus, formatSkew } from '../../src/cli/cluster.js';
import { FakeOrchestrator, fakeModule } from '../server/fake-orchestrator.js';
import { assertFails } from '../cli/support.js';
import { isolaAsync } from '../cli/serve-support.js';

const TOKEN = 'cluster-test-token';
const NOW = Date.parse('2026-03-01T12:00:10.000Z');

function nodeStatus(node: string, over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    node, url: `http://127.0.0.1:300${node === 'a' ? 1 : 2}`, adminUrl: 'http://127.0.0.1:4000', isola: '0.1.0', startedAt: '2026-03-01T11:00:00.000Z',
    sentAt: new Date(NOW).toISOString(), inflight: 2, queued: 0, functions: 1, versionsDigest: '3f2a9c01d4e5b6a7ffff', ready: true,
    lastSeenMs: NOW, state: 'up', skewMs: 0, self: node === 'a', ...over,
  };
}

const STATUS = {
  cluster: 'default',
  node: 'a',
  nodes: [
    nodeStatus('a', { versions: { hello: 'v1' } }),
    nodeStatus('b', { state: 'gone', lastSeenMs: NOW - 4200, skewMs: 3_600_250, inflight: 11, ready: false }),
  ],
};

const RECORDS: NodeLogRecord[] = [
  { time: '2026-03-01T12:00:01.000Z', requestId: 'r1', function: 'hello', version: 'v1', stream: 'stderr', text: 'from a', node: 'a' },
  { time: '2026-03-01T12:00:02.000Z', requestId: 'r2', function: 'hello', version: 'v1', stream: 'stderr', text: 'from b', node: 'b' },
];

class FakeCluster implements ClusterAdminApi {
  readonly reads: Array<[string, LogQuery]> = [];
  async status() {
    return STATUS;
  }
  async logs(name: string, query: LogQuery) {
    this.reads.push([name, query]);
    return RECORDS;
  }
}

let server: Server;
let url: string;
let ctx: AdminContext;
let dataDir: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'isola-admin-cluster-'));
  const orchestrator = new FakeOrchestrator({ dataDir });
  await orchestrator.deploy(parseFunctionEntry('hello', { route: '/hello' }, { where: 'test', source: 'forbidden' }), fakeModule());
  ctx = {
    orchestrator, token: TOKEN, logger: pino({ level: 'silent' }), metrics: new ServerMetrics(() => orchestrator, () => 0),
    policy: {} as GrantPolicy, defaultIsolation: undefined, maxUploadBytes: 1024, changed: () => {}, followers: new Set(), kv: {} as KvStores,
  };
  server = createServer((req, res) => {
    const where = parseRequestTarget(req.url ?? '/');
    void handleAdmin(ctx, req, res, where.segments.slice(1), where.query, 'test');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const stop of ctx.followers) stop();
  await new Promise((r) => server.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

const admin = (path: string, init: RequestInit = {}) => fetch(`${url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}` } });
const cli = (...args: string[]) => isolaAsync([...args, '--server', url, '--token', TOKEN]);

describe('the cluster on the admin API and the CLI', () => {
  it('a server not in a cluster: 404 with one line, and `isola cluster status` fails with it', async () => {
    ctx.cluster = undefined;
    const r = await admin('/cluster');
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: 'this server is not in a cluster' });
    assert.equal((await admin('/cluster', { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${url}/admin/cluster`)).status, 401, 'the token first');
    assertFails(await cli('cluster', 'status'), /this server is not in a cluster$/);
  });

  it('GET /admin/cluster answers the cluster\'s status; the CLI prints it as a table or JSON', async () => {
    ctx.cluster = new FakeCluster();
    const r = await admin('/cluster');
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), STATUS);

    const table = await cli('cluster', 'status');
    assert.equal(table.status, 0, table.stderr);
    assert.equal(table.stdout, formatClusterStatus(STATUS));
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'cluster default (2 nodes, 1 up), seen from a');
    assert.match(lines[1]!, /^ {2}NODE +STATE +URL +INFLIGHT +QUEUED +FUNCTIONS +VERSIONS +LAST SEEN +SKEW$/);
    assert.match(lines[2]!, /^\* a +up +http:\/\/127\.0\.0\.1:3001 +2 +0 +1 +3f2a9c01 +0\.0 s ago +\+0 ms$/);
    assert.match(lines[3]!, /^ {2}b +gone +http:\/\/127\.0\.0\.1:3002 +11 +0 +1 +3f2a9c01 +4\.2 s ago +\+3600\.3 s$/);

    const json = await cli('cluster', 'status', '--json');
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), STATUS);
  });

  it('formats state and skew', () => {
    assert.equal(formatSkew(-12.4), '-12 ms');
    assert.equal(formatSkew(-3_600_000), '-3600.0 s');
    const catchingUp = formatClusterStatus({ ...STATUS, nodes: [nodeStatus('a', { ready: false })] });
    assert.match(catchingUp, /\* a +catching up /);
  });

  it('in a cluster a log read has every node\'s records, each line prefixed with its node; a follow stays local', async () => {
    const cluster = new FakeCluster();
    ctx.cluster = cluster;
    const r = await admin('/functions/hello/logs?tail=2&since=2026-03-01T12:00:00Z');
    assert.equal(r.status, 200);
    assert.deepEqual((await r.text()).trimEnd().split('\n').map((l) => JSON.parse(l)), RECORDS);
    assert.deepEqual(cluster.reads, [['hello', { sinceMs: Date.parse('2026-03-01T12:00:00Z'), tail: 2 }]]);

    const out = await cli('logs', 'hello');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'a 2026-03-01T12:00:01.000Z r1 v1 from a\nb 2026-03-01T12:00:02.000Z r2 v1 from b\n');

    (ctx.orchestrator as FakeOrchestrator).logs.note('r0', 'hello', 'v0', 'local only');
    const abort = new AbortController();
    const follow = await fetch(`${url}/admin/functions/hello/logs?follow=1`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
    const reader = follow.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    assert.equal(JSON.parse(first.split('\n')[0]!).text, 'local only');
    assert.equal(JSON.parse(first.split('\n')[0]!).node, undefined);
    assert.equal(cluster.reads.length, 2, 'the follow did not ask the cluster');
  });
});
