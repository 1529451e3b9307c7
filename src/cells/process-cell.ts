/**
 * The `process` driver: the agent (one bundled file) in a child process, inside the jail that
 * src/cells/jail/ plans. The protocol runs over the child's fd 3 (a socketpair); extra pipes carry the
 * bytes the jail needs (the seccomp program). A cell that keeps a core busy — a guest running long, or the
 * agent spinning between invocations — gets a lower CPU priority until it behaves (see cpu-guard.ts), so one
 * spinning cell cannot starve the others on a small machine; its cgroup's CPU quota (jail/cgroup.ts) caps it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { AgentConfig } from './agent/core.js';
import { exitDescription } from './cell-errors.js';
import { CLOCK_TICKS_PER_SECOND, procStatFields } from './proc-stat.js';
import { CpuGuard, type CpuHistory, type CpuSample } from './cpu-guard.js';
import { launchStdio, type JailLaunch } from './jail/index.js';
import { RemoteCell } from './remote-cell.js';
import { CAP_FD } from './protocol/index.js';
import type { CellSpawnOptions, InvokeRequest, LoadRequest, ModuleHandle } from './types.js';

/** Nice value of a spinning cell (and of its autogroup): the lowest, so it takes ~1.5% of a core from a nice-0 neighbour. */
export const LOW_PRIORITY = 19;
const STDERR_TAIL = 4096;
/**
 * Invocations a process cell may hold at once (see RemoteCell): every request otherwise costs a socket write
 * and a wake-up of a sleeping process on each side, which on a small (virtual) machine costs more than a
 * tiny guest's whole run. The pool queues behind a running invocation only while it is young.
 */
export const PROCESS_PIPELINE_DEPTH = 8;
/** After the launcher exits, how long to wait for its sockets to drain (results already sent) before reporting. */
const DRAIN_AFTER_EXIT_MS = 250;

export class ProcessCell extends RemoteCell {
  readonly pid: number | undefined;
  private readonly child: ChildProcess;
  private readonly channel: Socket;
  private readonly capChannel: Socket;
  private stderrTail = '';
  private readonly cpu: CpuGuard;
  private agent: number | undefined;
  private readonly jailed: boolean;
  /** Frames written since the last flush wait for this tick's end (one writev for all of them). */
  private corked = false;
  private readonly flush = (): void => {
    this.corked = false;
    if (!this.channel.destroyed) this.channel.uncork();
  };

  constructor(options: CellSpawnOptions, launch: JailLaunch, config: AgentConfig) {
    super('process', options, config.maxParked ?? 0);
    this.pipelineDepth = PROCESS_PIPELINE_DEPTH;
    this.jailed = launch.kind !== 'none';
    this.cpu = new CpuGuard(() => this.cpuSample(), (low) => this.setLow(low, launch), options.cpuHistory);
    try {
      // fd 3: the control channel; fd 5 (CAP_FD): the capability channel, blocking on the agent's side.
      const stdio = launchStdio(launch, ['ignore', 'ignore', 'pipe', 'pipe', 'ignore', 'pipe']);
      this.child = spawn(launch.command, [...launch.args, JSON.stringify(config)], { stdio, env: launch.env });
    } finally {
      launch.releaseSharedFds(); // the child has its own copies
    }
    this.pid = this.child.pid;
    for (const [fd, bytes] of launch.fdData) {
      const pipe = this.child.stdio[fd] as Writable;
      pipe.on('error', () => {}); // a child that dies before reading it: its exit says so
      pipe.end(bytes);
    }
    this.channel = this.child.stdio[3] as Socket;
    this.capChannel = (this.child.stdio as unknown as Socket[])[CAP_FD]!;
    this.capChannel.on('data', (chunk: Buffer) => this.capReceive(chunk));
    this.capChannel.on('error', () => {});
    this.channel.setNoDelay?.(true);
    this.channel.on('data', (chunk: Buffer) => this.receive(chunk));
    this.channel.on('error', () => {}); // the exit event reports what happened
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-STDERR_TAIL);
    });
    this.child.on('error', (e) => this.exited(`could not start: ${e.message}`));
    // Reported on 'close' (the channel drained: every answer the cell sent before dying has been read, so
    // only the invocation it was really running fails with the crash), or shortly after 'exit' if something
    // else still holds the channel open.
    let reported = false;
    const report = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (reported) return;
      reported = true;
      this.cpu.stop();
      launch.cleanup();
      const how = this.jailed ? jailedExit(code, signal) : exitDescription(code, signal);
      this.exited(how, { exitCode: code, signal, stderr: this.stderrTail });
    };
    this.ready().then(() => this.cpu.start(), () => {});
    this.child.on('close', report);
    this.child.on('exit', (code, signal) => {
      setTimeout(() => {
        this.channel.destroy();
        report(code, signal);
      }, DRAIN_AFTER_EXIT_MS).unref();
    });
  }

  /**
   * The host pid of the agent itself (`pid` is the launcher: the jail tool, whose death takes the cell
   * with it). Found once, as the deepest descendant; the guest runs on its main thread.
   */
  get agentPid(): number | undefined {
    if (this.agent === undefined && this.pid !== undefined && this.state !== 'dead') this.agent = this.jailed ? deepestDescendant(this.pid) : this.pid;
    return this.agent;
  }

  send(parts: Uint8Array[]): void {
    if (this.channel.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.channel.cork();
      setImmediate(this.flush);
    }
    for (const part of parts) this.channel.write(part); // corked: they leave together at the flush
  }

  protected capSend(frame: Uint8Array): void {
    if (!this.capChannel.destroyed) this.capChannel.write(frame);
  }

  protected terminate(): void {
    this.child.kill('SIGKILL');
  }

  protected interruptGuest(): void {
    // A process cell reads frames only between invocations: the CANCEL frame, then the kill timer.
  }

  protected override dispatched(req: InvokeRequest): void {
    this.cpu.invocationStarted(req.limits?.timeoutMs);
  }

  protected override settled(): void {
    // With others pipelined behind it, the agent may have run them before this answer was read: its CPU since
    // is not this invocation's alone, so it is not judged heavy.
    this.cpu.invocationEnded(this.inCell === 0);
  }

  /**
   * The CPU history of the cells that run the same module (a pool's), for a cell spawned before it had one (a warm
   * spare): its next invocation starts lowered if that module's last one spun or was heavy in another cell.
   */
  shareCpuHistory(history: CpuHistory): void {
    this.cpu.shareHistory(history);
  }

  /** A load compiles the module: CPU the agent spends with work to do, not spinning. */
  override load(req: LoadRequest): Promise<ModuleHandle> {
    this.cpu.work(1);
    const done = (): void => this.cpu.work(-1);
    const loading = super.load(req);
    loading.then(done, done);
    return loading;
  }

  /**
   * The agent's main thread's CPU figures (see CpuSample), from /proc/PID/task/PID/schedstat (ns: time run, time
   * waited runnable), or where the kernel keeps no schedstat, utime + stime from .../stat (10 ms ticks; then
   * nothing is known of the waiting). Null if neither can be read. The guest and the agent's JavaScript run on
   * that thread; V8's GC and compiler threads, busy after a burst of work, would otherwise read as a cell burning
   * CPU with nothing to do.
   */
  private cpuSample(): CpuSample | null {
    const pid = this.agentPid;
    if (pid === undefined) return null;
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1').split(' ');
      const cpuMs = Number(run) / 1e6;
      return { cpuMs, wantedMs: cpuMs + Number(wait) / 1e6 };
    } catch {
      /* no schedstat here */
    }
    const f = procStatFields(`/proc/${pid}/task/${pid}/stat`);
    if (f === null) return null;
    const cpuMs = (Number(f[11]) + Number(f[12])) * (1000 / CLOCK_TICKS_PER_SECOND); // utime + stime
    return { cpuMs, wantedMs: cpuMs };
  }

  /**
   * Lowers the cell against other cells and the host, or puts it back: the agent's nice value; its autogroup's
   * (the jail starts a new session, and where the kernel groups tasks by session, sched_autogroup, a nice value
   * only counts inside its own group); and its CPU cgroup's weight (likewise, where it has a cgroup of its own).
   * Restoring the nice value needs CAP_SYS_NICE (or RLIMIT_NICE); without it the cell stays lowered, which is safe.
   */
  private setLow(low: boolean, launch: JailLaunch): boolean {
    const pid = this.agentPid;
    if (pid === undefined || this.state === 'dead') return false;
    const priority = low ? LOW_PRIORITY : 0;
    let ok = false;
    try {
      setPriority(pid, priority);
      ok = true;
    } catch {
      /* not permitted */
    }
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(priority));
    } catch {
      /* no autogroups here, or not permitted */
    }
    launch.lowerCpu(low);
    return ok;
  }
}

/** A jail tool reports its child's death by signal N as exit status 128 + N. */
function jailedExit(code: number | null, signal: string | null): string {
  if (signal === null && code !== null && code > 128 && code < 128 + 65) {
    const name = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name !== undefined) return `signal ${name}`;
  }
  return exitDescription(code, signal);
}

/** The deepest descendant of `pid`, following first children (a jailed agent below its launcher; tests find one below the CLI). */
export function deepestDescendant(pid: number): number | undefined {
  let current = pid;
  for (let depth = 0; depth < 8; depth++) {
    let children: string;
    try {
      children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').trim();
    } catch {
      return depth === 0 ? undefined : current;
    }
    if (children === '') return current;
    current = Number(children.split(' ')[0]);
  }
  return current;
}
