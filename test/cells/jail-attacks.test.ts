// The second wall, attacked as if the first had fallen: arbitrary JavaScript runs inside the jail and
// tries to reach the host. Each attack runs twice: with Node's permission model (the in-process fence)
// and with `noNodePermissions`, where only the kernel (namespaces, mounts, seccomp) stands in the way.
// Every "fails" is paired with evidence that the same thing works where it is granted, or on the host.
// Two doors: planJail() + a probe script (the jail alone), and a real `process` cell's unsafeEval.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jailSupport } from '../../src/cells/jail/index.js';
import { findExecutable } from '../../src/cells/jail/detect.js';
import { runtimeMounts } from '../../src/cells/jail/mounts.js';
import { probeUnshare } from '../../src/cells/jail/unshare.js';
import { runJailed } from './jail-fixtures/run-jailed.js';
import { grantToJail } from '../helpers/jail-user.js';
import { attacks, KERNEL_REFUSED, NODE_REFUSED, onHost, viaPlanJail, viaProcessCell, type Outcome, type Runner } from './jail-fixtures/attacks.js';
import type { Preopen } from '../../src/capabilities/wasi-p1/index.js';

const support = jailSupport();
const skip = support.process ? false : `no jail on this machine: ${support.reasons.join('; ')}`;

let listener: Server;
let port = 0;
let connections = 0;
let base: string;
let rw: string;
let ro: string;
let outside: string;

before(async () => {
  listener = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as { port: number }).port;
  base = mkdtempSync(join(tmpdir(), 'isola-jail-'));
  rw = join(base, 'rw');
  ro = join(base, 'ro');
  outside = join(base, 'outside');
  for (const d of [rw, ro, outside]) mkdirSync(d);
  grantToJail(ro, false, base);
  grantToJail(rw, true);
});

after(async () => {
  await new Promise<void>((r) => listener.close(() => r()));
  rmSync(base, { recursive: true, force: true });
});

function refused(r: Outcome): string {
  assert.equal(r.ok, false, `the attack succeeded: ${JSON.stringify(r.ok && r.value)}`);
  return (r as { error: string }).error;
}

function succeeded(r: Outcome): unknown {
  assert.ok(r.ok, `expected success, got ${!r.ok && r.error}`);
  return r.value;
}

// The unshare fallback (used where bubblewrap is missing) is attacked too wherever it works.
const unshare = findExecutable('unshare');
// (never as root: isola refuses a fallback jail that would be host root with no seccomp filter)
const unshareWorks = unshare !== null && support.hostUser.uid !== 0 && probeUnshare(unshare, support.launchAs).ok;
const RUNNERS: [string, Runner, string | false][] = [
  ['planJail', viaPlanJail(), skip],
  ['process cell', viaProcessCell, skip],
  ['unshare fallback', viaPlanJail('unshare'), unshareWorks ? false : 'the unshare fallback cannot build a jail here'],
];

// Positive controls: each attack above works on the host, so a refusal in the jail is the wall's doing.
test('outside the jail the same attacks succeed: read /etc/passwd and the home directory, connect, spawn, write', async () => {
  assert.ok(succeeded(await onHost(attacks.readFile('/etc/passwd'))));
  assert.ok(Array.isArray(succeeded(await onHost(attacks.readDir(homedir())))));
  const seen = connections;
  assert.equal(succeeded(await onHost(attacks.connect(port))), 'connected');
  for (let i = 0; i < 100 && connections === seen; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(connections, seen + 1, 'the host listener counts connections');
  assert.equal(succeeded(await onHost(attacks.spawn())), 'spawned, status 0');
  const target = join(outside, 'control');
  assert.equal(succeeded(await onHost(attacks.writeFile(target))), 'written');
  rmSync(target);
});

for (const [door, runner, skipDoor] of RUNNERS) {
  for (const noNodePermissions of [false, true]) {
    const skip = skipDoor;
    const mode = `${door}, ${noNodePermissions ? 'kernel only' : 'with Node permissions'}`;
    const run = (body: string, preopens: Preopen[] = []) => runner(body, { noNodePermissions, preopens });
    /** The refusal expected in this mode: Node's permission model where it is on and covers the API, else the kernel's. */
    const by = (kernel: RegExp, nodeCovers = true): RegExp => (noNodePermissions || !nodeCovers ? kernel : NODE_REFUSED);

    test(`jail (${mode}): /etc/passwd cannot be read`, { skip }, async () => {
      assert.ok(existsSync('/etc/passwd'), 'the host has an /etc/passwd to steal');
      assert.match(refused(await run(attacks.readFile('/etc/passwd'))), by(KERNEL_REFUSED.notMounted));
    });

    test(`jail (${mode}): the host's home directory cannot be read`, { skip }, async () => {
      assert.ok(existsSync(homedir()), 'the host has a home directory');
      assert.match(refused(await run(attacks.readDir(homedir()))), by(KERNEL_REFUSED.notMounted));
    });

    test(`jail (${mode}): host processes are invisible`, { skip }, async () => {
      const r = await run(attacks.listPids());
      if (!r.ok) return void assert.match(r.error, NODE_REFUSED, 'only Node\'s permission model may hide /proc');
      // Only the jail's own PID namespace, where the agent itself is PID 1 and alone.
      const pids = r.value as string[];
      assert.ok(!pids.includes(String(process.pid)), `host pid ${process.pid} visible: ${pids}`);
      assert.deepEqual(pids, ['1'], `other processes visible: ${pids}`);
    });

    test(`jail (${mode}): no TCP connection to the host's 127.0.0.1`, { skip }, async () => {
      const seen = connections;
      assert.match(refused(await run(attacks.connect(port))), by(KERNEL_REFUSED.connect, false)); // Node's model does not fence sockets
      assert.equal(connections, seen, 'the host listener saw a connection');
    });

    // Without bubblewrap there is no seccomp filter: inside the unshare fallback, only Node's permission
    // model refuses child processes (the child would still be jailed). isola doctor reports this.
    const noSeccomp = door === 'unshare fallback' && noNodePermissions && 'the unshare fallback has no seccomp filter';
    test(`jail (${mode}): no process can be spawned`, { skip: skip || noSeccomp }, async () => {
      assert.match(refused(await run(attacks.spawn())), by(KERNEL_REFUSED.spawn));
    });

    test(`jail (${mode}): nothing outside a preopen can be written`, { skip }, async () => {
      const target = join(outside, 'pwned');
      for (const path of [target, '/pwned', process.execPath, '/tmp/../pwned']) {
        assert.match(refused(await run(attacks.writeFile(path), [{ hostPath: rw, guestPath: '/rw' }])), by(KERNEL_REFUSED.notWritable), path);
      }
      assert.ok(!existsSync(target), 'a file appeared outside the preopen on the host');
    });

    test(`jail (${mode}): a read-write preopen can be read and written; a read-only one only read`, { skip }, async () => {
      writeFileSync(join(ro, 'given.txt'), 'from the host');
      const preopens = [{ hostPath: rw, guestPath: '/rw' }, { hostPath: ro, guestPath: '/ro', readOnly: true }];
      const made = join(rw, `made-${noNodePermissions}-${door.length}.txt`);
      assert.equal(succeeded(await run(`
        const fs = require('fs');
        fs.writeFileSync(${JSON.stringify(made)}, 'from the jail');
        return fs.readFileSync(${JSON.stringify(join(ro, 'given.txt'))}, 'utf8');`, preopens)), 'from the host');
      assert.equal(readFileSync(made, 'utf8'), 'from the jail');
      assert.match(refused(await run(attacks.writeFile(join(ro, 'given.txt')), preopens)), by(/\bEROFS\b/));
      assert.match(refused(await run(attacks.unlink(join(ro, 'given.txt')), preopens)), by(/\bEROFS\b/));
      assert.equal(readFileSync(join(ro, 'given.txt'), 'utf8'), 'from the host');
    });

    // Inside the jail no mount honours set-uid bits or device files (the device nodes of /dev need the
    // latter; they are no set-uid programs). /proc/self/mountinfo is hidden by Node's permission model.
    if (noNodePermissions) test(`jail (${mode}): every mount is nosuid, and nodev but for the device nodes`, { skip }, async () => {
      const lines = succeeded(await run(`return require('fs').readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\\n')`,
        [{ hostPath: rw, guestPath: '/rw' }])) as string[];
      const mounts = lines.map((l) => l.split(' ')).map((f) => ({ at: f[4]!, options: f[5]!.split(','), fs: f[f.indexOf('-') + 1]! }));
      assert.ok(mounts.some((m) => m.at === rw), `the preopen is mounted: ${lines.join('\n')}`);
      for (const m of mounts) {
        assert.ok(m.options.includes('nosuid'), `${m.at} is mounted without nosuid (${m.options})`);
        const device = m.fs === 'devtmpfs' || m.fs === 'devpts';
        if (!device) assert.ok(m.options.includes('nodev'), `${m.at} is mounted without nodev (${m.options})`);
      }
    });

    // A file the jail makes in a read-write preopen lives on the host: a set-uid bit on it (or ownership by
    // root) would hand any local user who runs it the jail's host identity, root when the jail mapped to it.
    test(`jail (${mode}): no set-uid or set-gid file appears on the host, nor one owned by root`, { skip }, async () => {
      const dir = join(rw, `setid-${door.replace(/\W/g, '-')}-${noNodePermissions}`);
      mkdirSync(dir);
      grantToJail(dir, true);
      const tries = succeeded(await run(attacks.setIdBits(dir), [{ hostPath: rw, guestPath: '/rw' }])) as Record<string, string>;
      assert.equal(tries['write'], 'done', 'the preopen is writable');
      const made = readdirSync(dir).map((name) => ({ name, st: lstatSync(join(dir, name)) }));
      assert.ok(made.length > 0, 'the jail made files');
      if (process.getuid?.() === 0) {
        for (const { name, st } of made) {
          assert.ok(st.uid !== 0 && st.gid !== 0, `${name} is owned by root (${st.uid}:${st.gid}) on the host`);
          assert.deepEqual([st.uid, st.gid], [support.hostUser.uid, support.hostUser.gid], `${name}: owned by the jail's host user`);
        }
      }
      // Without bubblewrap there is no seccomp filter to refuse the bits: the fallback's cells can mark their
      // own files (owned by the unprivileged host user above, never root), which isola doctor reports.
      if (door === 'unshare fallback') return;
      for (const label of ['chmod 4755', 'chmod 2755', 'fchmod 6755', 'chmod dir 2755', 'open O_CREAT 04755', 'open O_CREAT 02755', 'mkdir 02755']) {
        // (Node's permission model refuses fchmod before the kernel sees it; kernel only, seccomp does.)
        assert.match(tries[label] ?? 'missing', noNodePermissions ? /^EPERM$/ : /^(EPERM|ERR_ACCESS_DENIED)$/, `${label}: ${tries[label]}`);
      }
      for (const { name, st } of made) assert.equal(st.mode & 0o6000, 0, `${name} has mode ${(st.mode & 0o7777).toString(8)} on the host`);
    });
  }
}

// Properties only visible from inside (Node's permission model would hide /proc/self from the probe).
test('jail (kernel only): nobody, no capabilities, no network interfaces, the limits set', { skip }, async () => {
  const r = await runJailed(`
    const fs = require('fs');
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    return {
      uid: process.getuid(), gid: process.getgid(),
      capEff: /CapEff:\\s*(\\w+)/.exec(status)[1], capBnd: /CapBnd:\\s*(\\w+)/.exec(status)[1],
      seccomp: /Seccomp:\\s*(\\d)/.exec(status)[1], noNewPrivs: /NoNewPrivs:\\s*(\\d)/.exec(status)[1],
      nofile: /Max open files\\s+(\\d+)\\s+(\\d+)/.exec(limits).slice(1),
      core: /Max core file size\\s+(\\d+)\\s+(\\d+)/.exec(limits).slice(1),
      ifaces: fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean),
      root: fs.readdirSync('/').sort(),
      hostname: require('os').hostname(),
    };`, { noNodePermissions: true, maxOpenFiles: 100 });
  assert.ok(r.out?.ok, `expected success: ${JSON.stringify(r.out)} ${r.stderr}`);
  const v = r.out.value as Record<string, unknown>;
  assert.equal(v['uid'], 65534);
  assert.equal(v['gid'], 65534);
  assert.match(v['capEff'] as string, /^0+$/);
  assert.match(v['capBnd'] as string, /^0+$/);
  assert.equal(v['seccomp'], '2', 'a seccomp filter is installed');
  assert.equal(v['noNewPrivs'], '1');
  assert.deepEqual(v['nofile'], ['100', '100']);
  assert.deepEqual(v['core'], ['0', '0']);
  assert.deepEqual(v['ifaces'], ['lo'], 'an empty network namespace: loopback only');
  assert.equal(v['hostname'], 'isola-cell');
  // The jail's root holds its own /dev, /proc and /tmp plus the top folders of what it mounts: node and
  // its libraries, and isola's code (a checkout may sit under /work, /check, /home, ...).
  const topOf = (path: string): string => path.split(sep).filter(Boolean)[0] ?? '';
  const here = fileURLToPath(import.meta.url);
  const expected = new Set(['dev', 'proc', 'tmp', topOf(here), topOf(realpathSync(here)),
    ...runtimeMounts().map((m) => topOf(m.dest))]);
  for (const name of v['root'] as string[]) assert.ok(expected.has(name), `unexpected /${name} in the jail's root`);
  assert.ok(!(v['root'] as string[]).includes('etc'), 'no /etc in the jail');
});

// JS arrays (8 MiB each), so that the V8 heap limit catches them too where no cgroup is writable.
const ALLOCATE_512_MIB = `
  const keep = [];
  for (let i = 0; i < 64; i++) keep.push(new Array(1 << 20).fill(i));
  return 'allocated ' + keep.length * 8 + ' MiB';`;

test('jail: the memory cap ends a cell that allocates past it', { skip }, async () => {
  const r = await runJailed(ALLOCATE_512_MIB, { memoryLimitBytes: 64 << 20, noNodePermissions: true });
  assert.ok(!r.out?.ok, `allocated past the cap: ${JSON.stringify(r.out)}`);
  assert.ok(r.signal !== null || (r.code !== 0 && r.code !== null), `exit ${r.code} ${r.signal}`);
  // The control: with room for it, the same allocation succeeds in the same jail.
  const roomy = await runJailed(ALLOCATE_512_MIB, { memoryLimitBytes: 2 * 1024 ** 3, noNodePermissions: true });
  assert.deepEqual(roomy.out, { ok: true, value: 'allocated 512 MiB' }, roomy.stderr);
});

const OPEN_200 = `
  const fs = require('fs'); const fds = [];
  for (let i = 0; i < 200; i++) fds.push(fs.openSync('/proc/self/status', 'r'));
  return fds.length;`;

test('jail: open files are capped', { skip }, async () => {
  const r = await runJailed(OPEN_200, { noNodePermissions: true, maxOpenFiles: 64 });
  assert.equal(r.out?.ok, false, JSON.stringify(r.out));
  assert.match(r.out.error!, /EMFILE/);
  const roomy = await runJailed(OPEN_200, { noNodePermissions: true, maxOpenFiles: 512 });
  assert.deepEqual(roomy.out, { ok: true, value: 200 }, 'the control: with a higher cap the same opens succeed');
});

test('jail (with Node permissions): no native addons, workers or process.binding', { skip }, async () => {
  for (const [what, body, code] of [
    ['addon', `process.dlopen({ exports: {} }, process.execPath); return 'loaded'`, /ERR_DLOPEN_DISABLED|ERR_ACCESS_DENIED/],
    ['worker', `new (require('worker_threads').Worker)('0', { eval: true }); return 'started'`, /ERR_ACCESS_DENIED/],
    ['process.binding', `return typeof process.binding('fs')`, /ERR_ACCESS_DENIED/],
  ] as const) {
    const r = await runJailed(body);
    assert.equal(r.out?.ok, false, `${what}: ${JSON.stringify(r.out)} ${r.stderr}`);
    assert.match(r.out.error!, code, what);
  }
});
