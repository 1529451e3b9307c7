// The admin token is not root: attacks by a token holder who deploys a function granted /etc read-write, a
// symlink or `..` out of the allowed folder, the data directory (and its admin token), or an isolation the
// operator did not allow. isola.toml (the operator's own file) is trusted for its directories, but may not
// expose the data directory either.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/index.js';
import { FakeOrchestrator, fakeModule } from './fake-orchestrator.js';
import { LogCapture, startFake, type FakeServer } from './support.js';

type Json = Record<string, any>;

function deployTo(s: FakeServer) {
  return async (name: string, manifest: unknown): Promise<{ status: number; body: Json }> => {
    const r = await fetch(`${s.srv.adminUrl}/admin/functions/${name}`, {
      method: 'PUT',
      body: fakeModule(),
      headers: { authorization: `Bearer ${s.srv.adminToken}`, 'x-isola-manifest': JSON.stringify(manifest) },
    });
    return { status: r.status, body: (await r.json()) as Json };
  };
}

let s: FakeServer;
let deploy: ReturnType<typeof deployTo>;
let files: string;
before(async () => {
  s = await startFake();
  deploy = deployTo(s);
  files = realpathSync(join(s.dataDir, 'files')); // the default --allow-dir, made at start
});
after(() => s.stop());

test('by default a deploy may grant only folders of <data dir>/files', async () => {
  mkdirSync(join(files, 'site'), { recursive: true });
  const ok = await deploy('site', { route: '/site', files: [{ host: join(files, 'site'), guest: '/site', 'read-only': false }] });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.version.spec.files, [{ hostPath: join(files, 'site'), guestPath: '/site', readOnly: false }]);

  const etc = await deploy('etc', { route: '/etc', files: [{ host: '/etc', guest: '/etc', 'read-only': false }] });
  assert.equal(etc.status, 403);
  assert.equal(etc.body.error, `function.etc.files.0: /etc is outside the directories deploys may grant (${files}); to allow it, start isola serve with --allow-dir /etc`);
  assert.equal(s.fake.get('etc'), undefined, 'nothing deployed');
});

test('symlinks and .. are resolved before the check, and the resolved path is what is granted', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'isola-outside-'));
  try {
    symlinkSync(outside, join(files, 'sneaky'));
    const viaLink = await deploy('link', { route: '/link', files: [`${join(files, 'sneaky')}::/data`] });
    assert.equal(viaLink.status, 403);
    assert.match(viaLink.body.error, new RegExp(`${realpathSync(outside)} is outside the directories deploys may grant`));
    const viaDots = await deploy('dots', { route: '/dots', files: [`${files}/../../../../../../etc::/data`] });
    assert.equal(viaDots.status, 403);
    assert.match(viaDots.body.error, /files\.0: \/etc is outside/);
    // A link that stays inside is fine, and pinned to its target.
    mkdirSync(join(files, 'real'));
    symlinkSync(join(files, 'real'), join(files, 'alias'));
    const inside = await deploy('alias', { route: '/alias', files: [`${join(files, 'alias')}::/data`] });
    assert.equal(inside.status, 201, JSON.stringify(inside.body));
    assert.equal(inside.body.version.spec.files[0].hostPath, join(files, 'real'));
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test('isolation: process only by default; inline and worker are refused with the flag that allows them', async () => {
  for (const isolation of ['inline', 'worker']) {
    const r = await deploy(`iso-${isolation}`, { route: `/iso-${isolation}`, isolation });
    assert.equal(r.status, 403);
    assert.equal(r.body.error, `function.iso-${isolation}.isolation: "${isolation}" is not allowed for deploys on this server (allowed: process); to allow it, start isola serve with --allow-isolation process,${isolation}`);
  }
  const r = await deploy('iso-process', { route: '/iso-process', isolation: 'process' });
  assert.equal(r.status, 201);
});

test('--allow-dir and --allow-isolation widen it; the data directory stays out of reach through any root', async () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'isola-root-')));
  const dataDir = join(root, '.isola');
  const wide = await startFake({ dataDir, allowDirs: [root], allowIsolations: ['process', 'worker'], defaultIsolation: 'worker' });
  try {
    const put = deployTo(wide);
    mkdirSync(join(root, 'public'));
    const ok = await put('pub', { route: '/pub', files: [`${join(root, 'public')}::/public`] });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.version.spec.isolation, 'worker', 'a deploy that does not say gets the server\'s --isolation');
    const all = await put('all', { route: '/all', files: [`${root}::/all`] });
    assert.equal(all.status, 403);
    assert.equal(all.body.error, `function.all.files.0: ${root} contains the data directory ${dataDir} (the admin token, the stored versions): grant a subfolder that does not contain it (e.g. ${join(dataDir, 'files')}) or move the data directory (--data-dir)`);
    const state = await put('state', { route: '/state', files: [`${dataDir}::/state`] });
    assert.equal(state.status, 403);
    assert.match(state.body.error, /contains the data directory/);
    mkdirSync(join(dataDir, 'functions'), { recursive: true });
    const versions = await put('versions', { route: '/versions', files: [`${join(dataDir, 'functions')}::/v`] });
    assert.equal(versions.status, 403);
    assert.match(versions.body.error, /is inside the data directory .*: only its files\/ folder may be granted/);
    assert.equal((await put('inline', { route: '/inline', isolation: 'inline' })).status, 403);
  } finally {
    await wide.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('isola.toml is trusted for its directories, but a grant of the folder holding the data directory is refused', async () => {
  const project = realpathSync(mkdtempSync(join(tmpdir(), 'isola-project-')));
  const elsewhere = realpathSync(mkdtempSync(join(tmpdir(), 'isola-elsewhere-')));
  try {
    writeFileSync(join(project, 'fn.wasm'), fakeModule());
    const manifest = (files: string) => `[function.site]\nsource = "fn.wasm"\nroute = "/site"\nisolation = "inline"\nfiles = [${files}]\n`;
    const start = (text: string) => {
      writeFileSync(join(project, 'isola.toml'), text);
      return startServer({
        listen: '127.0.0.1:0', dataDir: join(project, '.isola'), manifestPath: join(project, 'isola.toml'),
        logger: new LogCapture().logger, createOrchestrator: (o) => new FakeOrchestrator(o),
      });
    };
    const trusted = await start(manifest(`"${elsewhere}::/data"`));
    assert.deepEqual(trusted.orchestrator.get('site')?.versions[0]?.spec.files, [{ hostPath: elsewhere, guestPath: '/data', readOnly: true }]);
    assert.equal(trusted.orchestrator.get('site')?.versions[0]?.spec.isolation, 'inline');
    await trusted.close(100);
    await assert.rejects(start(manifest('".::/app"')), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'MANIFEST');
      assert.equal(e.message, `isola.toml: function.site.files.0: ${project} contains the data directory ${join(project, '.isola')} (the admin token, the stored versions): grant a subfolder that does not contain it (e.g. ${join(project, '.isola', 'files')}) or move the data directory (--data-dir)`);
      return true;
    });
  } finally {
    rmSync(project, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
