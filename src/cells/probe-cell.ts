/**
 * `isola doctor`'s proof that the second wall stands: a real process cell, started exactly as the server starts
 * one (spawnCell → planJail: the same jail, flags and agent bundle), with one read-write preopen to try files in,
 * answers a PROBE frame with what it sees from inside (agent/probe.ts); and the host reads the kernel's view of
 * that same process from /proc/PID (namespaces against its own, seccomp, capabilities, the mounts as the cell
 * sees them, limits, cgroups). Walls are judged on what was seen, never on flags; a cell that cannot start
 * proves nothing, and the probe says why in the cell's own words.
 */
import { lchownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeReport } from './agent/probe.js';
import { processAgentEntry } from './agent-entry.js';
import { jailSupport, type JailTool, type Wall } from './jail/index.js';
import { processCgroupDir } from './jail/cgroup.js';
import { agentMounts, runtimeMounts } from './jail/mounts.js';
import { JAIL_UID } from './jail/namespaces.js';
import { ProcessCell } from './process-cell.js';
import { DEFAULT_CELL_MEMORY, DEFAULT_MAX_OPEN_FILES, spawnCell, type SpawnedCell } from './spawn.js';

export interface ProcessProbe {
  /** A process cell started in the jail and answered. */
  started: boolean;
  tool: JailTool | null;
  /** Start to answer, in ms. */
  ms?: number;
  /** Why no cell started: the spawn's error, which quotes the cell's last error line. */
  why?: string;
  /** Each wall the probe can judge: ok with what proved it, or no with what was seen instead. */
  walls: Record<string, Wall>;
}

const ANSWER_TIMEOUT_MS = 10_000;
const NAMESPACE_KINDS = ['user', 'pid', 'net', 'ipc', 'uts', 'mnt'] as const;

interface Mounted {
  at: string;
  options: string[];
  fs: string;
}

/** The kernel's view of a process, read from /proc/PID (and this process's own namespaces to compare). */
interface KernelView {
  status: Record<string, string>;
  uidMap: string;
  ns: Record<string, string>;
  hostNs: Record<string, string>;
  mounts: Mounted[];
  limits: string;
}

const readOr = (read: () => string, fallback = ''): string => {
  try {
    return read();
  } catch {
    return fallback;
  }
};

function kernelView(pid: number): KernelView {
  const proc = (f: string): string => readOr(() => readFileSync(`/proc/${pid}/${f}`, 'utf8'));
  const status: Record<string, string> = {};
  for (const line of proc('status').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) status[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  const ns = (who: string): Record<string, string> =>
    Object.fromEntries(NAMESPACE_KINDS.map((k) => [k, readOr(() => readlinkSync(`/proc/${who}/ns/${k}`), '?')]));
  const mounts = proc('mountinfo').trim().split('\n').filter(Boolean).map((l) => l.split(' '))
    .map((f) => ({ at: f[4] ?? '', options: (f[5] ?? '').split(','), fs: f[f.indexOf('-') + 1] ?? '' }));
  return { status, uidMap: proc('uid_map').trim().replace(/\s+/g, ' '), ns: ns(String(pid)), hostNs: ns('self'), mounts, limits: proc('limits') };
}

type Check = [holds: boolean, ifSo: string, ifNot: string];

/** ok when every check holds (saying what proved it), else no (saying what was seen instead). */
function judged(checks: Check[]): Wall {
  const failed = checks.filter(([holds]) => !holds).map(([, , ifNot]) => ifNot);
  return failed.length > 0 ? { ok: false, why: failed.join('; ') } : { ok: true, why: checks.map(([, ifSo]) => ifSo).join('; ') };
}

/** A cgroup file of the cell's, or null. */
function cgroupValue(pid: number, ctrl: 'memory' | 'cpu', files: string[]): { dir: string; values: string[] } | null {
  const where = processCgroupDir(pid, ctrl);
  if (where === null || !/\/isola-\d+-\d+$/.test(where.dir)) return null;
  const values = files.map((f) => readOr(() => readFileSync(join(where.dir, f), 'utf8').trim(), '?'));
  return { dir: where.dir, values };
}

interface Seen {
  pid: number;
  tool: JailTool;
  report: ProbeReport;
  kernel: KernelView;
  /** Files the cell left in its preopen, as the host sees them. */
  files: { name: string; uid: number; gid: number; mode: number }[];
  /** TCP connections the host's listener received. */
  connections: number;
  /** Mount points the jail may hold: its own /, /proc, /dev, /tmp and what planJail mounts. */
  expected: Set<string>;
}

function judge(s: Seen): Record<string, Wall> {
  const { report, kernel } = s;
  const status = kernel.status;
  const own = (k: string): boolean => kernel.ns[k] !== '?' && kernel.ns[k] !== kernel.hostNs[k];
  const nsCheck = (k: string, what: string): Check => [own(k), what, `shares the host's ${k} namespace (${kernel.hostNs[k]})`];
  const caps = ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].filter((c) => !/^0+$/.test(status[c] ?? 'missing'));
  const hostIds = (status['Uid'] ?? '?').split(/\s+/);
  const reached = Object.entries(report.connect).filter(([, r]) => r === 'connected' || r === 'ECONNREFUSED');
  const unexpected = kernel.mounts.filter((m) => !s.expected.has(m.at) && !/^\/(proc|dev)(\/|$)/.test(m.at)).map((m) => m.at);
  const devices = (m: Mounted): boolean => m.fs === 'devtmpfs' || m.fs === 'devpts';
  const loose = kernel.mounts.filter((m) => !m.options.includes('nosuid') || (!devices(m) && !m.options.includes('nodev'))).map((m) => m.at);
  const setIdTries = Object.entries(report.files).filter(([label]) => /[0-7]{4}$/.test(label));
  const setIdDone = setIdTries.filter(([, r]) => r === 'done').map(([label]) => label);
  const marked = s.files.filter((f) => (f.mode & 0o6000) !== 0).map((f) => `${f.name} ${(f.mode & 0o7777).toString(8)}`);
  const rootOwned = s.files.filter((f) => f.uid === 0 || f.gid === 0).map((f) => f.name);
  const limit = (name: string): string[] => (new RegExp(`^${name}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(kernel.limits) ?? []).slice(1);
  const memory = cgroupValue(s.pid, 'memory', ['memory.max', 'memory.limit_in_bytes']);
  const memLimit = memory?.values.find((v) => /^\d+$/.test(v));
  const cpu = cgroupValue(s.pid, 'cpu', ['cpu.max', 'cpu.cfs_quota_us', 'cpu.cfs_period_us']);
  const [v2quota, v2period] = (cpu?.values[0] ?? '').split(' ');
  const cores = cpu === null ? NaN : /^\d+$/.test(v2quota ?? '') ? Number(v2quota) / Number(v2period) : Number(cpu.values[1]) / Number(cpu.values[2]);
  const denied = (r: string): boolean => r === 'ERR_ACCESS_DENIED';
  const iAmRoot = process.getuid?.() === 0;
  const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`;

  return {
    'user namespace': judged([
      nsCheck('user', `its own user namespace (${kernel.ns['user']})`),
      [report.uid === JAIL_UID && report.gid === JAIL_UID, `uid/gid ${report.uid}/${report.gid} inside`, `uid/gid ${report.uid}/${report.gid} inside, not ${JAIL_UID}`],
      [/^\d+ \d+ 1$/.test(kernel.uidMap), `uid_map "${kernel.uidMap}"`, `uid_map "${kernel.uidMap}": more than one uid mapped`],
      [caps.length === 0, 'no capabilities (CapInh/Prm/Eff/Bnd/Amb all 0)', `capabilities left: ${caps.map((c) => `${c} ${status[c]}`).join(', ')}`],
    ]),
    'pid namespace': judged([
      nsCheck('pid', `its own pid namespace (${kernel.ns['pid']})`),
      [(status['NSpid'] ?? '').split(/\s+/).at(-1) === '1', 'the agent is its pid 1 (host pids invisible)', `the agent is pid ${status['NSpid']} there`],
    ]),
    'network namespace': judged([
      nsCheck('net', `its own network namespace (${kernel.ns['net']})`),
      [reached.length === 0 && s.connections === 0,
        `no TCP connection to the host (${Object.entries(report.connect).map(([t, r]) => `${t}: ${r}`).join(', ')})`,
        `reached the host: ${reached.map(([t, r]) => `${t}: ${r}`).join(', ')}${s.connections > 0 ? `; the host's listener saw ${s.connections}` : ''}`],
    ]),
    'ipc namespace': judged([nsCheck('ipc', `its own IPC namespace (${kernel.ns['ipc']}): no shared memory or queues with the host`)]),
    'uts namespace': judged([
      nsCheck('uts', `its own UTS namespace (${kernel.ns['uts']})`),
      [report.hostname === 'isola-cell', `hostname ${report.hostname}`, `hostname ${report.hostname}`],
    ]),
    'mount namespace': judged([
      nsCheck('mnt', `its own mount namespace (${kernel.ns['mnt']})`),
      [unexpected.length === 0, `${kernel.mounts.length} mounts, all expected: node and its libraries, the agent, /proc, /dev, /tmp, the preopen`,
        `unexpected mounts: ${unexpected.join(', ')}`],
    ]),
    'seccomp': judged([
      [status['Seccomp'] === '2', 'a filter is installed (Seccomp: 2)', `Seccomp: ${status['Seccomp'] ?? '?'}: no filter`],
      [status['NoNewPrivs'] === '1', 'NoNewPrivs: 1', `NoNewPrivs: ${status['NoNewPrivs'] ?? '?'}`],
    ]),
    'set-uid files': judged([
      [loose.length === 0, 'every mount nosuid (and nodev, but the device nodes)', `mounts without nosuid/nodev: ${loose.join(', ')}`],
      [setIdTries.length > 0 && setIdDone.length === 0, `set-uid/set-gid modes refused in a read-write preopen (${setIdTries.map(([l, r]) => `${l}: ${r}`).join(', ')})`,
        `a cell can make set-uid/set-gid files in a read-write preopen (${setIdDone.join(', ')}${s.tool === 'unshare' ? ': the unshare fallback has no seccomp filter' : ''})`],
      [marked.length === 0, 'none on the host', `on the host: ${marked.join(', ')}`],
    ]),
    'host uid': judged([
      [hostIds[1] !== '0' || !iAmRoot, `the agent runs as host uid ${hostIds[1]}`, 'the agent runs as host root'],
      [report.files['write'] === 'done', 'it can write its read-write preopen', `it cannot write its read-write preopen (${report.files['write']})`],
      [rootOwned.length === 0 || !iAmRoot, `what it writes there belongs to ${s.files.map((f) => `${f.uid}:${f.gid}`)[0] ?? '?'}`, `files owned by root on the host: ${rootOwned.join(', ')}`],
    ]),
    'cgroup memory': judged([[memLimit !== undefined && Number(memLimit) === DEFAULT_CELL_MEMORY,
      `memory cap ${mib(DEFAULT_CELL_MEMORY)} (default) in ${memory?.dir}`,
      memory === null ? 'not in a memory cgroup of its own: only V8\'s heap limit (--max-old-space-size) caps it' : `memory cap ${memLimit ?? '?'} in ${memory.dir}`]]),
    'cgroup cpu': judged([[cores === 1, `a quota of 1 core (default) in ${cpu?.dir}`,
      cpu === null ? 'not in a CPU cgroup of its own: no quota, only nice values lower it' : `quota ${cores} cores in ${cpu.dir}`]]),
    'rlimits': judged([
      [limit('Max open files').join('/') === `${DEFAULT_MAX_OPEN_FILES}/${DEFAULT_MAX_OPEN_FILES}`, `open files ${DEFAULT_MAX_OPEN_FILES} (soft = hard)`, `open files ${limit('Max open files').join('/')}`],
      [limit('Max core file size').join('/') === '0/0', 'core dumps 0', `core dumps ${limit('Max core file size').join('/')}`],
    ]),
    'node permissions': judged([
      [report.permission.model, 'on', 'off'],
      [denied(report.permission.readPasswd), 'reading /etc/passwd is refused (ERR_ACCESS_DENIED)', `reading /etc/passwd: ${report.permission.readPasswd}`],
      // A fence, not a wall (see jail/node-flags.ts): where it has a gap, say so; the mount namespace holds there.
      [true, denied(report.permission.readRoot) ? 'so is listing /' : `listing / is not (${report.permission.readRoot}): a gap of Node ${process.version}'s fence`, ''],
    ]),
  };
}

/** The cell's answer is untrusted like every frame: the shape judge() reads, or an error. */
function asReport(x: unknown): ProbeReport {
  const o = x as Partial<ProbeReport> | null;
  const record = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.values(v).every((e) => typeof e === 'string');
  if (typeof o !== 'object' || o === null || typeof o.uid !== 'number' || typeof o.gid !== 'number' || typeof o.hostname !== 'string'
    || typeof o.permission !== 'object' || o.permission === null || typeof o.permission.model !== 'boolean'
    || typeof o.permission.readRoot !== 'string' || typeof o.permission.readPasswd !== 'string' || !record(o.connect) || !record(o.files)) {
    throw new Error('the probe cell answered something other than a probe report');
  }
  return o as ProbeReport;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** The host's own addresses: 127.0.0.1 (a listener waits there), and each external IPv4 (a route would answer ECONNREFUSED). */
function targets(port: number): { host: string; port: number }[] {
  const external = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  return [{ host: '127.0.0.1', port }, ...external.slice(0, 2).map((a) => ({ host: a!.address, port }))];
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  })]).finally(() => clearTimeout(timer));
}

/** Starts one process cell in the jail, asks it what it sees, and judges each wall on that. */
export async function probeProcessCell(): Promise<ProcessProbe> {
  const support = jailSupport();
  const dir = mkdtempSync(join(tmpdir(), 'isola-probe-'));
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  let cell: SpawnedCell | undefined;
  try {
    // The preopen belongs to the jail's host user, as an operator would grant it (see jail/host-user.ts).
    if (support.hostUser.uid !== process.getuid?.()) lchownSync(dir, support.hostUser.uid, support.hostUser.gid);
    const port = await listen(server);
    const t0 = performance.now();
    cell = await spawnCell({ isolation: 'process', requireJail: true, preopens: [{ hostPath: dir, guestPath: '/probe' }] });
    if (!(cell instanceof ProcessCell) || cell.agentPid === undefined) throw new Error('the probe cell is not a jailed process');
    const pid = cell.agentPid;
    const report = asReport(await withTimeout(cell.probe({ connect: targets(port), dir }), ANSWER_TIMEOUT_MS, 'the probe cell'));
    const ms = Math.round(performance.now() - t0);
    const kernel = kernelView(pid);
    const files = readdirSync(dir).map((name) => {
      const st = lstatSync(join(dir, name));
      return { name, uid: st.uid, gid: st.gid, mode: st.mode };
    });
    const expected = new Set(['/', '/proc', '/dev', '/tmp', dir, ...runtimeMounts().map((m) => m.dest), ...agentMounts(processAgentEntry()).map((m) => m.dest)]);
    const walls = judge({ pid, tool: support.tool!, report, kernel, files, connections, expected });
    walls['process cell'] = { ok: true, why: `started with ${support.tool} and answered in ${ms} ms (host pid ${pid})` };
    return { started: true, tool: support.tool, ms, walls };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { started: false, tool: support.tool, why, walls: { 'process cell': { ok: false, why } } };
  } finally {
    cell?.kill();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
