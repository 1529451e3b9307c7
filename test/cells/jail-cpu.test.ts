// CPU between invocations, attacked as if the first wall had fallen: the agent itself spins with nothing in
// flight (the eval door runs JavaScript inside it). The cell must be lowered (nice 19, and its CPU cgroup's
// weight) within a bound, and put back once it stops; its cgroup caps it at one core where cgroups work here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { spawnCell } from '../../src/cells/index.js';
import { jailSupport } from '../../src/cells/jail/index.js';
import { processCgroupDir } from '../../src/cells/jail/cgroup.js';
import { LOW_PRIORITY } from '../../src/cells/process-cell.js';
import { COUNTER, sleep } from './guests.js';
import { until } from '../helpers/until.js';

const support = jailSupport();
const skip = support.process ? false : `no jail on this machine: ${support.reasons.join('; ')}`;
const cgroupCpu = support.walls['cgroup cpu']?.ok === true;

/** The cgroup's CPU quota in cores, and whether its weight is lowered. */
function cpuLimits(pid: number): { cores: number; low: boolean } {
  const { dir, version } = processCgroupDir(pid, 'cpu')!;
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8').trim();
  if (version === 2) {
    const [quota, period] = read('cpu.max').split(' ');
    return { cores: Number(quota) / Number(period), low: read('cpu.weight.nice') === '19' };
  }
  return { cores: Number(read('cpu.cfs_quota_us')) / Number(read('cpu.cfs_period_us')), low: Number(read('cpu.shares')) < 1024 };
}

test('jail: a cell spinning with nothing in flight is lowered within a bound, and put back once it behaves', { skip, timeout: 60_000 }, async (t) => {
  const cell = await spawnCell({ isolation: 'process', requireJail: true, unsafeTestHooks: { eval: true } });
  try {
    const m = await cell.load({ bytes: COUNTER });
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
    const pid = cell.agentPid!;
    assert.equal(getPriority(pid), 0, 'an idle cell runs at the normal priority');
    if (cgroupCpu) {
      assert.match(processCgroupDir(pid, 'cpu')!.dir, /\/isola-\d+-\d+$/, 'the agent is in a CPU cgroup of its own');
      assert.deepEqual(cpuLimits(pid), { cores: 1, low: false }, 'a quota of one core, normal weight');
    }

    // The invocation is over; now the agent spins on its own (a slice of the event loop at a time, so that
    // it still answers frames).
    await cell.unsafeEval(`globalThis.spinner = setInterval(() => { const t = Date.now(); while (Date.now() - t < 45); }, 1); 'spinning'`);
    const lowered = await until(() => getPriority(pid) === LOW_PRIORITY, 'lowered to nice 19', 5000);
    if (cgroupCpu) assert.equal(cpuLimits(pid).low, true, 'its cgroup weighs less too (a nice value counts only inside its cgroup)');
    t.diagnostic(`lowered ${lowered} ms after the spin began`);

    await cell.unsafeEval(`clearInterval(globalThis.spinner); 'stopped'`);
    const back = await until(() => getPriority(pid) === 0, 'put back to nice 0', 5000);
    if (cgroupCpu) assert.deepEqual(cpuLimits(pid), { cores: 1, low: false });
    t.diagnostic(`put back ${back} ms after it stopped`);
    // And it still works.
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
  } finally {
    cell.kill();
  }
});

test('jail: cpuCores sets the cell cgroup\'s CPU quota', { skip: skip || (!cgroupCpu && 'no CPU cgroup here') }, async () => {
  const cell = await spawnCell({ isolation: 'process', requireJail: true, cpuCores: 0.5 });
  try {
    await cell.load({ bytes: COUNTER }); // up and answering
    assert.equal(cpuLimits(cell.agentPid!).cores, 0.5);
  } finally {
    cell.kill();
  }
});
