// Joining a NATS that asks for credentials or TLS, each way `[cluster]` of isola.toml can give them: a token, an
// nkey seed file, a CA for the server's certificate. The right one joins; a wrong one is one line and a
// non-zero exit, never a hang or a node that serves without its cluster. (User and password: failures.test.ts.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { serve } from './support.js';
import { startNats, type TestServer } from '../../support/kv-servers.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'isola-cred-'));
  dirs.push(d);
  return d;
};

/** Starts a node whose isola.toml has `[cluster]` with `table`; resolves with its output once it listens. */
async function joins(table: string): Promise<string> {
  const d = dir();
  writeFileSync(join(d, 'isola.toml'), `[cluster]\n${table}\n`);
  const node = await serve(['--data-dir', join(d, 'data'), '--spare-cells', '0'], d);
  try {
    return node.output();
  } finally {
    await node.kill();
  }
}

/** Starts a node that must not join: its one error line. */
async function refused(table: string): Promise<string> {
  const d = dir();
  writeFileSync(join(d, 'isola.toml'), `[cluster]\n${table}\n`);
  const t0 = performance.now();
  let line = '';
  await assert.rejects(serve(['--data-dir', join(d, 'data'), '--spare-cells', '0'], d), (e: Error & { status?: number; output?: string }) => {
    assert.notEqual(e.status, 0);
    const errors = (e.output ?? '').split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, e.output);
    assert.doesNotMatch(e.output ?? '', /\n\s+at /);
    line = errors[0]!;
    return true;
  });
  assert.ok(performance.now() - t0 < 15_000);
  return line;
}

describe('cluster credentials and TLS', { timeout: 120_000 }, () => {
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a token', async () => {
    const nats = await startNats(['--auth', 'the-right-token-1234']);
    servers.push(nats);
    assert.match(await joins(`url = "${nats.url}"\ntoken = "the-right-token-1234"`), /isola: node \S+ of cluster "default" \(1 node up so far\)/);
    assert.match(await refused(`url = "${nats.url}"\ntoken = "a-wrong-token"`), /cannot join the cluster "default" .*credentials refused/i);
  });

  it('an nkey seed file (the node signs the server\'s nonce; the seed never travels)', async () => {
    const user = nkeys.createUser();
    const other = nkeys.createUser();
    const d = dir();
    writeFileSync(join(d, 'nats.conf'), `authorization { users = [ { nkey: "${String(user.getPublicKey())}" } ] }\n`);
    const nats = await startNats(['-c', join(d, 'nats.conf')]);
    servers.push(nats);
    const seed = join(d, 'isola.nk');
    writeFileSync(seed, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    const wrongSeed = join(d, 'other.nk');
    writeFileSync(wrongSeed, new TextDecoder().decode(other.getSeed()), { mode: 0o600 });
    assert.match(await joins(`url = "${nats.url}"\nnkey-seed-file = "${seed}"`), /isola: node \S+ of cluster "default" \(1 node up so far\)/);
    assert.match(await refused(`url = "${nats.url}"\nnkey-seed-file = "${wrongSeed}"`), /credentials refused/i);
    assert.match(await refused(`url = "${nats.url}"\nnkey-seed-file = "${join(d, 'missing.nk')}"`), /cannot read the nkey seed file .*missing\.nk: ENOENT/);
    writeFileSync(join(d, 'junk.nk'), 'not a seed');
    assert.match(await refused(`url = "${nats.url}"\nnkey-seed-file = "${join(d, 'junk.nk')}"`), /junk\.nk does not hold a user nkey seed/);
  });

  it('TLS: the server\'s certificate checked against tls-ca-file; without it, refused', async () => {
    const d = dir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const nats = await startNats(['--tls', '--tlscert', join(d, 'cert.pem'), '--tlskey', join(d, 'key.pem')]);
    servers.push(nats);
    const tlsUrl = nats.url.replace(/^nats:/, 'tls:');
    assert.match(await joins(`url = "${tlsUrl}"\ntls-ca-file = "${join(d, 'cert.pem')}"`), /isola: node \S+ of cluster "default" \(1 node up so far\)/);
    assert.match(await refused(`url = "${tlsUrl}"`), /cannot join the cluster "default" .*(certificate|self.signed)/i);
  });
});
