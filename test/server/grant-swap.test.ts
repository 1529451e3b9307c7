// A grant swapped for a symlink after deploy. Functions are granted <files>/shared/b; whoever can write in
// <files>/shared (another function granted it read-write: its guest can path_rename `b` away and
// path_symlink a relative target of any shape in its place, which WASI stores as written) replaces `b` by a
// link that leads out of every allowed root, here to a secret next to the data directory. Nothing may open
// the grant through the link: not an instance's preopen (inline and worker cells open the grant per
// request), not a new jail's mount (process cells, e.g. after the server restarts). The request fails; the
// server's log says why. Once the directory is back, the functions serve again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pino } from 'pino';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { grantToJail } from '../helpers/jail-user.js';
import { jailSupport } from '../../src/cells/jail/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

const FILES = readFileSync(fromRoot('test', 'fixtures', 'cgi', 'files.wasm'));
const KINDS = ['inline', 'worker', ...(jailSupport().process ? ['process'] : [])];

let dir: string;
let dataDir: string;
let shared: string;
let secret: string;
let srv: RunningServer;
const logged: string[] = [];

const start = (): Promise<RunningServer> => startServer({
  listen: '127.0.0.1:0', dataDir, allowIsolations: ['inline', 'worker', 'process'],
  logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }),
});

before(async () => {
  dir = tempDir('isola-grant-swap-');
  dataDir = join(dir, '.isola');
  srv = await start();
  shared = join(dataDir, 'files', 'shared');
  mkdirSync(join(shared, 'b'), { recursive: true });
  writeFileSync(join(shared, 'b', 'input.txt'), 'granted');
  secret = join(dir, 'secret');
  mkdirSync(secret);
  writeFileSync(join(secret, 'input.txt'), 'SECRET');
  grantToJail(join(shared, 'b'), false, dir);
  grantToJail(secret, false);
});
after(async () => {
  await srv.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

/** Deploys the files guest as `name` with a manifest entry, through the admin API. */
const deploy = (name: string, manifest: Record<string, unknown>): Promise<Response> => fetch(`${srv.adminUrl}/admin/functions/${name}`, {
  method: 'PUT', body: FILES, headers: { authorization: `Bearer ${srv.adminToken}`, 'x-isola-manifest': JSON.stringify(manifest) },
});

const get = async (name: string): Promise<{ status: number; body: string }> => {
  const r = await fetch(`${srv.url}/${name}`);
  return { status: r.status, body: await r.text() };
};

test('a grant that became a symlink out of the allowed roots is refused, not followed, in every cell kind', { timeout: 120_000 }, async () => {
  for (const isolation of KINDS) {
    const r = await deploy(`b-${isolation}`, { route: `/b-${isolation}`, isolation, files: [`${join(shared, 'b')}::/data`] });
    assert.equal(r.status, 201, await r.text());
    assert.match((await get(`b-${isolation}`)).body, /read: granted/, `${isolation}: the grant works as deployed`);
  }
  // The swap, as the neighbour's guest would make it: b moved aside, a relative link in its place.
  const b = join(shared, 'b');
  renameSync(b, join(shared, 'b-moved'));
  symlinkSync(relative(shared, secret), b);
  assert.equal(readFileSync(join(b, 'input.txt'), 'utf8'), 'SECRET', 'the link leads to the secret');
  try {
    const refused = async (name: string, when: string): Promise<void> => {
      const answer = await get(name);
      assert.doesNotMatch(answer.body, /SECRET/, `${name} ${when}: the swapped grant was followed`);
      assert.equal(answer.status, 500, `${name} ${when}: ${answer.body}`);
      assert.ok(logged.some((l) => l.includes(`granted directory ${b} changed since it was granted`)), `${name} ${when}: the server log says why`);
    };
    // Inline and worker cells open the grant for each instance: the very next request.
    for (const isolation of KINDS.filter((k) => k !== 'process')) await refused(`b-${isolation}`, 'right after the swap');
    // A restart opens every grant anew (process cells: new jails, new mounts).
    await srv.close(2000);
    logged.length = 0;
    srv = await start();
    for (const isolation of KINDS) await refused(`b-${isolation}`, 'after a restart');
  } finally {
    rmSync(b);
    renameSync(join(shared, 'b-moved'), b);
  }
  for (const isolation of KINDS) assert.match((await get(`b-${isolation}`)).body, /read: granted/, `${isolation}: serves again once the directory is back`);
});

// The same link, planted before a grant names it: where it leads is the guest's choice (here another
// function's private folder, inside the allowed roots, so the root check alone would let it through).
test('a grant whose path goes through a symlink inside a read-write grant is refused: deploy (403) and isola.toml', async () => {
  const files = join(dataDir, 'files');
  mkdirSync(join(files, 'private'), { recursive: true });
  const writer = await deploy('writer', { route: '/writer', isolation: 'inline', files: [{ host: shared, guest: '/data', 'read-only': false }] });
  assert.equal(writer.status, 201, await writer.text());
  symlinkSync(join('..', 'private'), join(shared, 'c')); // what writer's guest can make with path_symlink
  try {
    const r = await deploy('reader', { route: '/reader', isolation: 'inline', files: [`${join(shared, 'c')}::/data`] });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { error: string }).error, `function.reader.files.0: ${join(shared, 'c')} goes through the symlink ${join(shared, 'c')}, `
      + 'inside a directory granted read-write to a function (a guest may have put it there, and so chosen where it leads); grant the directory it should lead to by its own path');
    // The operator's own file is checked the same way.
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'isola.toml'), `
[function.writer]
source = "${fromRoot('test', 'fixtures', 'cgi', 'files.wasm')}"
route = "/w"
files = [{ host = "${shared}", guest = "/data", read-only = false }]

[function.reader]
source = "${fromRoot('test', 'fixtures', 'cgi', 'files.wasm')}"
route = "/r"
files = ["${join(shared, 'c')}::/data"]
`);
    await assert.rejects(startServer({ listen: '127.0.0.1:0', dataDir: join(project, '.isola'), manifestPath: join(project, 'isola.toml'), logger: pino({ level: 'silent' }) }),
      (e: unknown) => e instanceof Error && /isola\.toml: function\.reader\.files\.0: .* goes through the symlink .*, inside a directory granted read-write/.test(e.message));
  } finally {
    rmSync(join(shared, 'c'));
  }
});
