// The density flags on the command line: `isola deploy --tenant --idle-timeout` (sent as the manifest entry's
// `tenant` and `idle-timeout`), `isola serve --idle-timeout --spare-cells --max-functions --max-tenants`; bad
// values are one line and exit 2; a deploy past a server's limit is one line with the server's 409.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { assertFails } from './support.js';
import { isolaAsync, startServe } from './serve-support.js';

const HELLO = fromRoot('test', 'fixtures', 'cgi', 'hello.wasm');
// Nothing listens here: bad flags must fail before anything is sent.
const NOWHERE = { ISOLA_SERVER: 'http://127.0.0.1:9', ISOLA_TOKEN: 'test-token-0123456789abcdef' };

test('bad --tenant and --idle-timeout on deploy: one line, exit 2, before anything is sent', async () => {
  const base = ['deploy', HELLO, '--name', 'hello', '--route', '/hello'];
  const rule = "(expected lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters)";
  const cases: Array<[string[], RegExp | string]> = [
    [[...base, '--tenant', 'Acme'], `bad tenant "Acme" ${rule}`],
    [[...base, '--tenant', ''], `bad tenant "" ${rule}`],
    [[...base, '--tenant', '../x'], `bad tenant "../x" ${rule}`],
    [[...base, '--tenant', 'a'.repeat(64)], /^error: bad tenant "a{57}\.\.\." \(expected/],
    [[...base, '--idle-timeout', '5'], "invalid idle timeout '5' (expected 0 or a number with a unit: 500ms, 2s, 5m)"],
    [[...base, '--idle-timeout', 'soon'], "invalid idle timeout 'soon' (expected 0 or a number with a unit: 500ms, 2s, 5m)"],
    [[...base, '--idle-timeout', '-1m'], "invalid idle timeout '-1m' (expected 0 or a number with a unit: 500ms, 2s, 5m)"],
    [[...base, '--idle-timeout', '1000h'], "invalid idle timeout '1000h' (must be greater than 0 and at most ~24 days)"],
    [[...base, '--tenant'], "option '--tenant <name>' argument missing"],
  ];
  const results = await Promise.all(cases.map(([args]) => isolaAsync(args, { env: NOWHERE })));
  results.forEach((r, i) => assertFails(r, cases[i]![1], { status: 2, usage: true }));
});

test('bad --idle-timeout, --spare-cells, --max-functions, --max-tenants on serve: one line, exit 2', async () => {
  const empty = tempDir('isola-serve-density-flags-');
  const cases: Array<[string[], string]> = [
    [['--idle-timeout', '300'], "invalid idle timeout '300' (expected 0 or a number with a unit: 500ms, 2s, 5m)"],
    [['--idle-timeout', 'never'], "invalid idle timeout 'never' (expected 0 or a number with a unit: 500ms, 2s, 5m)"],
    [['--spare-cells', '-1'], "invalid spare cells '-1' (expected a whole number from 0 to 1024)"],
    [['--spare-cells', 'two'], "invalid spare cells 'two' (expected a whole number from 0 to 1024)"],
    [['--spare-cells', '1025'], "invalid spare cells '1025' (expected a whole number from 0 to 1024)"],
    [['--max-functions', '0'], "invalid max functions '0' (expected a whole number of at least 1)"],
    [['--max-functions', '1e4'], "invalid max functions '1e4' (expected a whole number of at least 1)"],
    [['--max-tenants', '-3'], "invalid max tenants '-3' (expected a whole number of at least 1)"],
  ];
  const results = await Promise.all(cases.map(([args]) => isolaAsync(['serve', '--listen', '127.0.0.1:0', ...args], { cwd: empty })));
  results.forEach((r, i) => assertFails(r, cases[i]![1], { status: 2, usage: true }));
});

test('help names the new flags', async () => {
  const serve = await isolaAsync(['serve', '--help']);
  for (const flag of ['--idle-timeout <duration>', '--spare-cells <n>', '--max-functions <n>', '--max-tenants <n>']) assert.ok(serve.stdout.includes(flag), flag);
  const deploy = await isolaAsync(['deploy', '--help']);
  for (const flag of ['--tenant <name>', '--idle-timeout <duration>']) assert.ok(deploy.stdout.includes(flag), flag);
});

test('serve --max-functions 3 --max-tenants 2: deploy --tenant until refused, one 409 line, nothing changed, all still serving', { timeout: 120_000 }, async () => {
  const cwd = tempDir('isola-serve-density-');
  const served = await startServe(['--isolation', 'inline', '--max-functions', '3', '--max-tenants', '2', '--idle-timeout', '0', '--spare-cells', '0'], cwd);
  try {
    const cli = (...args: string[]) => isolaAsync([...args, '--server', served.url], { cwd });
    const deploy = (name: string, ...flags: string[]) => cli('deploy', HELLO, '--name', name, '--route', `/${name}`, ...flags);
    for (const [name, flags] of [['a', ['--idle-timeout', '30s']], ['b', ['--tenant', 'acme', '--idle-timeout', '0']], ['c', ['--tenant', 'acme']]] as const) {
      const r = await deploy(name, ...flags);
      assert.equal(r.status, 0, r.stderr);
    }
    const listed = async () => JSON.parse((await cli('functions', '--json')).stdout) as Array<{ name: string; active: string; versions: Array<{ spec: { tenant?: string; idleTimeoutMs?: number } }> }>;
    const before = await listed();
    assert.deepEqual(before.map((f) => [f.name, f.versions[0]!.spec.tenant, f.versions[0]!.spec.idleTimeoutMs]), [['a', undefined, 30_000], ['b', 'acme', 0], ['c', 'acme', undefined]]);

    assertFails(await deploy('d', '--tenant', 'acme'), `${served.url}: 409 deploy: the server's limit of 3 functions is reached (isola serve --max-functions)`, { status: 1 });
    assertFails(await deploy('c', '--tenant', 'other'), `${served.url}: 409 deploy: the server's limit of 2 tenants is reached, and "other" would be one more (isola serve --max-tenants)`, { status: 1 });
    assert.deepEqual((await listed()).map((f) => [f.name, f.active, f.versions.length]), before.map((f) => [f.name, f.active, f.versions.length]));
    for (const name of ['a', 'b', 'c']) assert.equal(await (await fetch(`${served.url}/${name}`)).text(), 'hello from isola\n');
    assert.equal((await fetch(`${served.url}/d`)).status, 404);

    // At the limit, a function already there takes a new version.
    const again = await deploy('a', '--tenant', 'acme', '--idle-timeout', '1m');
    assert.equal(again.status, 0, again.stderr);
    const a = (await listed()).find((f) => f.name === 'a')!;
    assert.equal(a.versions.length, 2);
    assert.deepEqual([a.versions[0]!.spec.tenant, a.versions[0]!.spec.idleTimeoutMs], ['acme', 60_000]);
    assert.equal(await (await fetch(`${served.url}/a`)).text(), 'hello from isola\n');

    // isola functions: each function's tenant when it is not itself, then the tenants' cells.
    const shown = (await cli('functions')).stdout;
    assert.match(shown, /^a +\/a {2}\(tenant acme\)$/m);
    assert.match(shown, /^b +\/b {2}\(tenant acme\)$/m);
    assert.doesNotMatch(shown, /tenant a\)/);
    assert.match(shown, /^TENANT +FUNCTIONS +CELLS +LOADED +COLD STARTS +SCALED DOWN$/m);
    const acme = /^acme +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$/m.exec(shown);
    assert.ok(acme, shown);
    assert.equal(acme[1], '3', 'a, b and c are all acme now');
    assert.ok(Number(acme[2]) >= 1 && Number(acme[3]) >= 1, shown); // cells and modules loaded (b never scales: warm from its deploy)
    const metrics = await (await fetch(`${served.url}/metrics`)).text();
    assert.match(metrics, /^isola_tenant_cells\{tenant="acme",state="alive"\} [1-9]/m);
    assert.match(metrics, /^isola_tenant_modules\{tenant="acme",kind="functions"\} 3$/m);
    assert.match(metrics, /^isola_tenant_events\{tenant="acme",event="cold_start"\} \d+$/m);
  } finally {
    await served.kill();
  }
});
