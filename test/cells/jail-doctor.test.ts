// `isola doctor`, as a user runs it: every wall with ok/no (and why not), what process cells get here,
// the same facts as JSON, and exit status 0 whatever the machine lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { jailSupport } from '../../src/cells/jail/index.js';
import { CLI } from '../helpers/root.js';

const WALLS = ['wasm sandbox', 'user namespace', 'pid namespace', 'network namespace', 'ipc namespace', 'uts namespace',
  'mount namespace', 'seccomp', 'cgroup memory', 'rlimits', 'node permissions', 'microvm'];

const doctor = (...args: string[]) => spawnSync(process.execPath, [CLI, 'doctor', ...args], { encoding: 'utf8', timeout: 30_000 });

test('isola doctor: one line per wall, ok or no with the reason, and what process cells get', () => {
  const r = doctor();
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const wall of WALLS) {
    const line = r.stdout.split('\n').find((l) => l.slice(6).startsWith(wall));
    assert.ok(line, `no line for ${wall}:\n${r.stdout}`);
    assert.match(line, /^ {2}(ok|no) {2}/);
    if (line.startsWith('  no')) assert.ok(line.slice(6 + wall.length).trim().length > 0, `${wall} says no without a reason`);
  }
  const support = jailSupport();
  assert.match(r.stdout, support.process ? /process cells: jailed with (bwrap|unshare)/ : /falls back to worker cells/);
});

test('isola doctor --json: the same report, machine-readable', () => {
  const r = doctor('--json');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { walls: Record<string, { ok: boolean; why?: string }>; process: { isolation: string; tool: string | null } };
  for (const wall of WALLS) {
    assert.equal(typeof report.walls[wall]?.ok, 'boolean', wall);
    if (!report.walls[wall]!.ok) assert.ok(report.walls[wall]!.why, `${wall} says no without a reason`);
  }
  assert.equal(report.walls['wasm sandbox']!.ok, true);
  const support = jailSupport();
  assert.equal(report.process.isolation, support.process ? 'process' : 'worker');
  assert.equal(report.process.tool, support.tool);
});

test('isola doctor: a stray argument is a usage error, not a stack trace', () => {
  const r = doctor('--bogus');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: /);
  assert.ok(!r.stderr.includes('    at '), r.stderr);
});
