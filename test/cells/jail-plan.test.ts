// planJail(): what it refuses (one clear IsolaError('JAIL') each), what it hands the driver, and that
// its per-cell state (the cgroup) is removed by cleanup(). Also: the test-only switches stay test-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolaError } from '../../src/errors.js';
import { jailPreopens, jailSupport, planJail, SECCOMP_FD, type JailRequest } from '../../src/cells/jail/index.js';
import { hostSeccompFilter } from '../../src/cells/jail/seccomp.js';
import { dropTarget } from '../../src/cells/jail/host-user.js';
import { ROOT, fromRoot } from '../helpers/root.js';
import { PROBE, runJailed } from './jail-fixtures/run-jailed.js';
import { pinMounts, preopenMounts } from '../../src/cells/jail/mounts.js';
import { grantToJail } from '../helpers/jail-user.js';

const support = jailSupport();
const skip = support.process ? false : `no jail on this machine: ${support.reasons.join('; ')}`;
const base: JailRequest = { agentEntry: PROBE, nodeArgs: [], preopens: [], memoryLimitBytes: 256 << 20, maxOpenFiles: 256 };

function refusedWith(req: Partial<JailRequest>, pattern: RegExp): void {
  assert.throws(() => planJail({ ...base, ...req }), (e: unknown) => {
    assert.ok(e instanceof IsolaError, String(e));
    assert.equal(e.code, 'JAIL');
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('jail: jailSupport() is probed once and explains itself', () => {
  assert.equal(jailSupport(), support, 'cached');
  assert.equal(typeof support.process, 'boolean');
  for (const w of ['user namespace', 'pid namespace', 'network namespace', 'ipc namespace', 'uts namespace', 'mount namespace', 'seccomp', 'host uid', 'cgroup memory', 'rlimits', 'node permissions']) {
    assert.ok(support.walls[w], `wall ${w} reported`);
    if (!support.walls[w]!.ok) assert.ok(support.walls[w]!.why, `wall ${w} says why not`);
  }
  if (!support.process) assert.ok(support.reasons.length > 0);
});

test('jail: bad requests are refused with one clear line', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-plan-'));
  try {
    writeFileSync(join(dir, 'file'), '');
    refusedWith({ agentEntry: 'agent.js' }, /absolute/);
    refusedWith({ agentEntry: join(dir, 'missing.js') }, /agent entry not found/);
    refusedWith({ preopens: [{ hostPath: '/proc', guestPath: '/p' }] }, /overlaps \/proc/);
    refusedWith({ preopens: [{ hostPath: '/', guestPath: '/' }] }, /overlaps/);
    // (a checkout under /tmp is refused first for holding the agent: the same refusal, another reason)
    refusedWith({ preopens: [{ hostPath: '/tmp', guestPath: '/t' }] }, ROOT.startsWith('/tmp/') ? /which the jail provides itself/ : /private \/tmp/);
    refusedWith({ preopens: [{ hostPath: join(dir, 'file'), guestPath: '/f' }] }, /not a directory/);
    refusedWith({ preopens: [{ hostPath: join(dir, 'nope'), guestPath: '/f' }] }, /not a directory/);
    refusedWith({ preopens: [{ hostPath: fromRoot('test', 'cells'), guestPath: '/f' }] }, /overlaps/); // holds the agent
    refusedWith({ memoryLimitBytes: 1000 }, /memoryLimitBytes/);
    refusedWith({ maxOpenFiles: 3 }, /maxOpenFiles/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jail: the launch hands over the seccomp program at fd 4 and the jail starts with no host environment', { skip }, () => {
  const launch = planJail(base);
  try {
    assert.equal(launch.kind, 'bwrap');
    assert.deepEqual(launch.env, {});
    assert.ok(SECCOMP_FD >= 4);
    assert.deepEqual(launch.fdData.get(SECCOMP_FD), hostSeccompFilter());
    assert.ok(launch.args.includes('--seccomp') && launch.args.includes(String(SECCOMP_FD)));
    assert.ok(launch.args.at(-1) === PROBE, 'the agent entry comes last (the driver appends its own arguments)');
  } finally {
    launch.cleanup();
  }
});

test('jail: run as root, the launcher drops to an unprivileged host user before the jail tool starts', { skip: skip || (process.getuid?.() !== 0 && 'not root') }, () => {
  const launch = planJail(base);
  try {
    const setpriv = launch.args.findIndex((a) => a.endsWith('/setpriv'));
    const tool = launch.args.findIndex((a) => a.endsWith('/bwrap') || a.endsWith('/unshare'));
    assert.ok(setpriv > 0 && setpriv < tool, `setpriv before the tool: ${launch.args.join(' ')}`);
    assert.deepEqual(launch.args.slice(setpriv + 1, tool), ['--reuid=65534', '--regid=65534', '--clear-groups', '--']);
    assert.deepEqual(support.hostUser, { uid: 65534, gid: 65534 });
    assert.equal(support.walls['host uid']?.ok, true, support.walls['host uid']?.why);
  } finally {
    launch.cleanup();
  }
});

test('jail: ISOLA_JAIL_USER names the unprivileged host user; anything else is one clear line', () => {
  assert.deepEqual(dropTarget({}), { uid: 65534, gid: 65534 });
  assert.deepEqual(dropTarget({ ISOLA_JAIL_USER: '998:997' }), { uid: 998, gid: 997 });
  for (const bad of ['0:0', '1000:0', '0:1000', 'nobody', '1000', '1000:', ':1000', '-1:5', '1:2:3', '4294967295:1', '99999999999:1']) {
    assert.throws(() => dropTarget({ ISOLA_JAIL_USER: bad }), (e: unknown) => {
      assert.ok(e instanceof IsolaError && e.code === 'JAIL', String(e));
      assert.match(e.message, /^ISOLA_JAIL_USER must be UID:GID/);
      return true;
    }, bad);
  }
});

test('jail: cleanup() removes the cell cgroup', { skip: skip || (!support.walls['cgroup memory']?.ok && 'no writable cgroup here') }, async () => {
  const launch = planJail(base);
  const dirs = launch.args.filter((a) => a.endsWith('/cgroup.procs')).map((a) => a.slice(0, -'/cgroup.procs'.length));
  assert.ok(dirs.length > 0, 'the launcher joins a cgroup');
  for (const d of dirs) assert.ok(statSync(d).isDirectory());
  const mem = dirs.find((d) => d.includes('/memory'));
  if (mem) assert.equal(readFileSync(join(mem, existsSync(join(mem, 'memory.max')) ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim(), String(256 << 20));
  launch.cleanup();
  for (let i = 0; i < 40 && dirs.some(existsSync); i++) await sleep(50);
  for (const d of dirs) assert.ok(!existsSync(d), `${d} left behind`);
});

test('jail: preopens appear inside the jail at their absolute host path', () => {
  const [p] = jailPreopens([{ hostPath: 'relative/dir', guestPath: '.', readOnly: true }]);
  assert.equal(p!.hostPath, join(process.cwd(), 'relative/dir'));
  assert.equal(p!.guestPath, '.');
  assert.equal(p!.readOnly, true);
});

test('jail: the test-only switches cannot be reached from the CLI, the server, the orchestrator or a manifest', () => {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const area of ['cli', 'server', 'orchestrator', 'cluster']) {
    const dir = fromRoot('src', area);
    if (!existsSync(dir)) continue;
    for (const file of walk(dir)) {
      const src = readFileSync(file, 'utf8');
      for (const word of ['unsafeNoPathChecks', 'noPathChecks', 'unsafeTestHooks', 'noNodePermissions']) {
        assert.ok(!src.includes(word), `${file} mentions ${word}`);
      }
    }
  }
});

test('jail: a preopen is mounted from the directory the host opened and checked; the jail holds no fd of it', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-pin-'));
  const rw = join(dir, 'rw');
  const ro = join(dir, 'ro');
  try {
    for (const d of [rw, ro]) mkdirSync(d);
    grantToJail(rw, true, dir);
    grantToJail(ro, false);
    const launch = planJail({ ...base, preopens: [{ hostPath: rw, guestPath: '/rw' }, { hostPath: ro, guestPath: '/ro', readOnly: true }] });
    try {
      assert.equal(launch.sharedFds.size, 2);
      for (const [childFd, hostFd] of launch.sharedFds) {
        const bind = launch.args.indexOf(String(childFd)) - 1;
        assert.match(launch.args[bind]!, /^--(ro-)?bind-fd$/, `child fd ${childFd} is bound from its fd`);
        assert.ok([rw, ro].includes(readlinkSync(`/proc/self/fd/${hostFd}`)));
      }
      launch.releaseSharedFds();
      for (const hostFd of launch.sharedFds.values()) assert.throws(() => fstatSync(hostFd), { code: 'EBADF' }, 'released');
    } finally {
      launch.cleanup();
    }
    // Inside, the directories are there and no descriptor of the host directories is (kernel only: Node's
    // permission model would hide /proc/self).
    const r = await runJailed(`
      const fs = require('fs');
      return { fds: fs.readdirSync('/proc/self/fd').map((n) => { try { return fs.readlinkSync('/proc/self/fd/' + n); } catch { return ''; } }),
        rw: fs.existsSync(${JSON.stringify(rw)}), ro: fs.existsSync(${JSON.stringify(ro)}) };`,
    { noNodePermissions: true, preopens: [{ hostPath: rw, guestPath: '/rw' }, { hostPath: ro, guestPath: '/ro', readOnly: true }] });
    const out = r.out?.value as { fds: string[]; rw: boolean; ro: boolean };
    assert.ok(out && out.rw && out.ro, JSON.stringify(r));
    assert.deepEqual(out.fds.filter((t) => t === rw || t === ro), [], `fds inside the jail: ${out.fds.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jail: a preopen swapped for a symlink between the check and the open is refused, and nothing is left open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isola-pin-'));
  try {
    mkdirSync(join(dir, 'b'));
    mkdirSync(join(dir, 'elsewhere'));
    const mounts = preopenMounts([{ hostPath: join(dir, 'b'), guestPath: '/b' }], []);
    // The swap lands after preopenMounts resolved the path, before pinMounts opens it.
    renameSync(join(dir, 'b'), join(dir, 'b-moved'));
    symlinkSync('elsewhere', join(dir, 'b'));
    const before = readdirSync('/proc/self/fd').length;
    assert.throws(() => pinMounts(mounts), (e: unknown) => {
      assert.ok(e instanceof IsolaError && e.code === 'IO', String(e));
      assert.match(e.message, new RegExp(`granted directory ${join(dir, 'b')} changed since it was granted: it now resolves to ${join(dir, 'elsewhere')}`));
      return true;
    });
    assert.equal(readdirSync('/proc/self/fd').length, before, 'no fd left open');
    assert.equal(mounts[0]!.childFd, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
