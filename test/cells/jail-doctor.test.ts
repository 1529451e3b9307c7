// `isola doctor`, as a user runs it: every wall with ok/no (and why not), what process cells get here,
// the same facts as JSON, and exit status 0 whatever the machine lacks. Where a jail tool works, the process
// walls are what a probe cell saw: a jail tool that builds the jail but in which no cell starts (as on Node 26
// before --allow-net), or that silently leaves a wall out, is shown for what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { jailSupport } from '../../src/cells/jail/index.js';
import { findExecutable } from '../../src/cells/jail/detect.js';
import { CLI, fromRoot } from '../helpers/root.js';

const WALLS = ['wasm sandbox', 'process cell', 'user namespace', 'pid namespace', 'network namespace', 'ipc namespace', 'uts namespace',
  'mount namespace', 'seccomp', 'set-uid files', 'host uid', 'cgroup memory', 'cgroup cpu', 'rlimits', 'node permissions', 'microvm'];
/** What only a running cell can show. */
const PROVEN = WALLS.slice(1, -1);

const support = jailSupport();
const bwrap = findExecutable('bwrap');
const skipStub = support.tool === 'bwrap' && bwrap !== null ? false : 'needs a working bubblewrap';

interface Report {
  walls: Record<string, { ok: boolean; why?: string }>;
  process: { isolation: string; tool: string | null; probed: boolean; reasons: string[] };
}

const doctor = (args: string[] = [], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [CLI, 'doctor', ...args], { encoding: 'utf8', timeout: 60_000, env });

const line = (stdout: string, wall: string): string | undefined => stdout.split('\n').find((l) => l.slice(6).startsWith(`${wall} `));

/** Runs `use` with a fake `bwrap` first on PATH: `script` is its body, then it execs the real one. */
function withStubBwrap<T>(script: string, use: (env: NodeJS.ProcessEnv) => T): T {
  // The stub runs as the jail's host user (setpriv drops to it first when the tests run as root): let it in.
  const dir = mkdtempSync(join(tmpdir(), 'isola-stub-bwrap-'));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'bwrap'), `#!/bin/sh\n${script}\nexec ${bwrap} "$@"\n`, { mode: 0o755 });
    return use({ ...process.env, PATH: `${dir}${delimiter}${process.env['PATH'] ?? ''}` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds every jail but the one a cell's agent runs in (what Node 26 did before --allow-net: the tool probe passed). */
const NO_AGENT = 'for a; do case "$a" in */agent.js) echo "Error: stub bwrap: no agent here" >&2; exit 1;; esac; done';

test('isola doctor: one line per wall, ok or no with the reason, and what process cells get', () => {
  const r = doctor();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const wall of WALLS) {
    const l = line(r.stdout, wall);
    assert.ok(l, `no line for ${wall}:\n${r.stdout}`);
    assert.match(l, /^ {2}(ok|no) {2}/);
    if (l.startsWith('  no')) assert.ok(l.slice(6 + wall.length).trim().length > 0, `${wall} says no without a reason`);
  }
  assert.match(r.stdout, support.process ? /process cells: jailed with (bwrap|unshare)/ : /falls back to worker cells/);
});

test('isola doctor --json: the same report, machine-readable', () => {
  const r = doctor(['--json']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  for (const wall of WALLS) {
    assert.equal(typeof report.walls[wall]?.ok, 'boolean', wall);
    if (!report.walls[wall]!.ok) assert.ok(report.walls[wall]!.why, `${wall} says no without a reason`);
  }
  assert.equal(report.walls['wasm sandbox']!.ok, true);
  assert.equal(report.process.isolation, support.process ? 'process' : 'worker');
  assert.equal(report.process.tool, support.tool);
  assert.equal(report.process.probed, report.walls['process cell']!.ok);
});

test('isola doctor: the process walls are what a probe cell saw from inside and the kernel says of it', { skip: support.process ? false : 'no jail here' }, () => {
  const report = JSON.parse(doctor(['--json']).stdout) as Report;
  const w = report.walls;
  assert.equal(w['process cell']!.ok, true, w['process cell']!.why);
  assert.equal(report.process.probed, true);
  for (const ns of ['user', 'pid', 'net', 'ipc', 'uts', 'mnt']) {
    const wall = Object.entries(w).find(([name]) => name.startsWith(ns === 'net' ? 'network' : ns === 'mnt' ? 'mount' : ns))!;
    assert.equal(wall[1].ok, true, `${wall[0]}: ${wall[1].why}`);
    assert.match(wall[1].why!, new RegExp(`own .*\\(${ns}:\\[\\d+\\]\\)`), `${wall[0]} names the namespace it saw`);
  }
  assert.match(w['user namespace']!.why!, /uid\/gid 65534\/65534 inside; uid_map "65534 \d+ 1"/);
  assert.match(w['network namespace']!.why!, /no TCP connection to the host \(127\.0\.0\.1:\d+: E[A-Z]+/);
  assert.match(w['pid namespace']!.why!, /pid 1/);
  if (support.tool === 'bwrap') {
    assert.equal(w['seccomp']!.ok, true, w['seccomp']!.why);
    assert.equal(w['set-uid files']!.ok, true, w['set-uid files']!.why);
  }
  if (process.getuid?.() === 0) assert.match(w['host uid']!.why!, /host uid (?!0\b)\d+/);
  assert.match(w['rlimits']!.why!, /open files 256/);
});

test('isola doctor: a jail in which no cell starts shows every process wall down, says why, and that process cells fall back to worker', { skip: skipStub }, () => {
  const [text, json] = withStubBwrap(NO_AGENT, (env) => [doctor([], env), doctor(['--json'], env)]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(line(text.stdout, 'bubblewrap')!, /^ {2}ok/, 'the tool itself still builds a jail');
  assert.match(line(text.stdout, 'process cell')!, /^ {2}no {2}process cell +no cell starts in the bwrap jail: cell failed to start \(exit code 1\): Error: stub bwrap: no agent here$/);
  for (const wall of PROVEN) assert.match(line(text.stdout, wall)!, /^ {2}no/, `${wall} cannot be up when no cell starts`);
  assert.ok(!text.stdout.includes('every wall above up'), text.stdout);
  assert.match(text.stdout, /\nprocess cells: not available here, --isolation process falls back to worker cells \(no cell starts in the bwrap jail: .*stub bwrap: no agent here\)\n$/);

  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Report;
  assert.deepEqual([report.process.isolation, report.process.probed], ['worker', false]);
  assert.match(report.process.reasons.join(), /stub bwrap: no agent here/);
  for (const wall of PROVEN) assert.equal(report.walls[wall]?.ok, false, wall);
});

test('isola doctor: a jail that silently leaves out a wall is caught by what the cell sees', { skip: skipStub }, () => {
  // A jail tool that drops --unshare-net: the flags say "network namespace", the cell shares the host's.
  const text = withStubBwrap('for a; do shift; [ "$a" = --unshare-net ] || set -- "$@" "$a"; done', (env) => doctor([], env));
  assert.equal(text.status, 0, text.stderr);
  assert.match(line(text.stdout, 'process cell')!, /^ {2}ok/);
  assert.match(line(text.stdout, 'network namespace')!, /^ {2}no {2}network namespace +shares the host's net namespace \(net:\[\d+\]\)/);
  assert.match(text.stdout, /process cells: jailed with bwrap \(without: network namespace\)/);
});

test('isola run --isolation process: where no cell starts in the jail, it says so once and runs in a worker cell', { skip: skipStub }, () => {
  const r = withStubBwrap(NO_AGENT, (env) => spawnSync(process.execPath,
    [CLI, 'run', '--isolation', 'process', '--invoke', 'is_thirteen', fromRoot('examples/is-thirteen.wasm'), '13'], { encoding: 'utf8', timeout: 60_000, env }));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1\n');
  assert.match(r.stderr, /^isola: process cells need a jail this machine cannot build \(no cell starts in the bwrap jail: .*stub bwrap: no agent here\); using worker cells instead\n$/);
});

const skipRoot = support.process && process.getuid?.() === 0 ? false : 'needs a jail and root';

test('isola doctor, run as root: ISOLA_JAIL_USER names the host user cells run as; a bad one means no jail, and says why', { skip: skipRoot }, () => {
  const as = (user: string) => JSON.parse(doctor(['--json'], { ...process.env, ISOLA_JAIL_USER: user }).stdout) as Report;
  const mine = as('4242:4343');
  assert.equal(mine.walls['host uid']!.ok, true, mine.walls['host uid']!.why);
  assert.match(mine.walls['host uid']!.why!, /the agent runs as host uid 4242; .* belongs to 4242:4343/);
  const bad = as('0:0');
  assert.deepEqual([bad.process.isolation, bad.process.tool], ['worker', null]);
  assert.match(bad.process.reasons.join(), /ISOLA_JAIL_USER must be UID:GID of an unprivileged user/);
});

test('isola doctor: a stray argument is a usage error, not a stack trace', () => {
  const r = doctor(['--bogus']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: /);
  assert.ok(!r.stderr.includes('    at '), r.stderr);
});
