/**
 * The host side of a cell reached through frames (worker and process drivers): request ids, the
 * invocation queue, cancellation, the hang watchdog, and the rule that every frame from the cell is
 * untrusted — a malformed one kills the cell and fails its invocations with CELL_PROTOCOL. Drivers
 * supply the transport: send, terminate, and how to cancel.
 *
 * Pipelining: a driver may let up to `pipelineDepth` invocations be in the cell at once, not counting parked
 * ones. The agent starts them one at a time, in order; the first not yet seen to start (the head) is the only
 * one that can be running, unless a parked one has resumed (in-cell.ts). The watchdog and cancellation act on the
 * one running. When a cell dies, those behind it never started: they fail with `notStarted` in their detail, so a
 * pool may run them elsewhere; parked ones started, and fail as the running one does.
 *
 * Parking (where the agent has JSPI; maxParked > 0): a WASI guest that sleeps parks, its stack suspended, and the
 * agent runs the next invocation meanwhile (PARKED frame); it runs again when its sleep ends (RESUMED), and its
 * answer may come after those of invocations sent after it. A cell holds up to maxParked parked invocations on
 * top of its pipeline: there is room for another while pending - parked < maxPending.
 *
 * Output: the cell sends the running invocation's stdout and stderr in data frames (see agent/output-batch.ts);
 * each goes to the caller's callback or is kept for the result or the error (CallerOutput). A frame for a
 * request that is not running, a control frame above MAX_CONTROL_FRAME_BYTES or data beyond its caps is refused
 * from its header, before its payload is buffered.
 *
 * Taking back (with options.takeBackAfterMs, as pools spawn cells): an invocation sent behind one that may be
 * running carries a start-by time (takeBackAfterMs later, on the clock host and agent share); the agent never starts
 * it at or after that time, nor while an earlier answer (or PARKED frame) is still in its send buffer. Once that
 * time has passed and the event loop has then read everything the cell sent, an invocation that is not the one
 * that may be running (one before it has not been seen to answer or park, or a resumed one runs) cannot have
 * started and never will: it fails at once with `notStarted` (detail.takenBack), and the pool runs it elsewhere
 * instead of behind one that turned slow. Its own answer, when the cell gets to it, is dropped.
 */
import { IsolaError } from '../errors.js';
import {
  CAP_CELL_TO_HOST, MAX_CAP_DATA, MAX_CAP_FRAME_BYTES, capPayload, writeHeader, joinParts,
  CELL_TO_HOST, DATA_INPUT, DATA_STDERR, FrameDecoder, FrameType, FrameWriter, HEADER_BYTES, MAX_CONTROL_FRAME_BYTES, TYPE_NAMES,
  bytesText, dataFrameSlot, decodeError, decodeEvalResult, decodeResult, monotonicMs, protocolError, textBytes, ByteReader,
  type FrameSink, type LoadMessage,
} from './protocol/index.js';
import { CallerOutput } from './caller-output.js';
import { loadMessage } from './load-message.js';
import { cancelled, cellClosed, cellCrashed, notStarted, takenBack, wasNotStarted } from './cell-errors.js';
import { outputCaps } from './output-caps.js';
import { checkInvocationPreopens } from './preopens.js';
import type { ProbeRequest } from './agent/probe.js';
import { InCell } from './in-cell.js';
import type { Cell, CellSpawnOptions, InvokeRequest, InvokeResult, Isolation, LoadRequest, ModuleHandle } from './types.js';

interface Job {
  id: number;
  req: InvokeRequest;
  output: CallerOutput;
  /** Why it fails if its cell dies now (cancelled, then killed because it did not stop). */
  failWith: IsolaError | null;
  signal: AbortSignal | undefined;
  resolve(r: InvokeResult): void;
  reject(e: unknown): void;
  onAbort: (() => void) | undefined;
  /** Settled already (cancelled while behind the head): its answer, when it comes, is dropped. */
  done: boolean;
  /** Sent behind another: the agent must not start it at or after this time (monotonicMs). */
  startBy: number | undefined;
  /** Taken back unstarted: it will not run here (no hooks, not counted). */
  takenBack: boolean;
  /** CAP_SEND frames received for it on the capability channel. */
  capSends: number;
  /** In the cell: see InCellJob. */
  state: 'sent' | 'parked' | 'resumed';
  /** Its watchdog (timeoutMs + killGraceMs after it started), or once it was cancelled while running, its kill timer. */
  timer: NodeJS.Timeout | null;
  /** Cancelled while running: its timer is the kill timer. */
  cancelling: boolean;
}

/** An invocation answered before all its capability sends were read (the channels are not ordered with each other). */
interface Draining {
  job: Job;
  result: InvokeResult;
  want: number;
  timer: NodeJS.Timeout;
}

/** How long an answered invocation may wait for the capability frames its result announced. */
const CAP_SENDS_GRACE_MS = 5000;

interface Call {
  kind: 'load' | 'eval' | 'probe';
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

type State = 'starting' | 'alive' | 'closing' | 'dying' | 'dead';

let nextCellId = 1;
export const DEFAULT_KILL_GRACE_MS = 1000;

export abstract class RemoteCell implements Cell, FrameSink {
  readonly id = nextCellId++;
  readonly spawnedAt = Date.now();
  invocations = 0;
  protected state: State = 'starting';
  protected readonly killGraceMs: number;
  private readonly writer = new FrameWriter(this);
  private readonly decoder: FrameDecoder;
  private readonly queue: Job[] = [];
  /** Sent to the cell, unanswered: see in-cell.ts. */
  private readonly inCellJobs: InCell<Job>;
  /** The invocation the agent may be running now (its hooks were called), and since when (performance.now()). */
  private runner: Job | null = null;
  private runnerSince = 0;
  /** How many parked invocations the cell may hold (0: its guests never park). */
  readonly maxParked: number;
  private readonly calls = new Map<number, Call>();
  private nextRequestId = 1;
  private readonly listeners: Array<(reason: Error) => void> = [];
  /** An agent that ignores shutdown is killed when this fires. */
  private timer: NodeJS.Timeout | null = null;
  private hostEnded = false; // close() or kill(): no onExit
  private readonly parkListeners: Array<() => void> = [];
  private readonly exitWaiters: Array<() => void> = [];
  /** Looks for invocations to take back (see takeBack). */
  private takeBackTimer: NodeJS.Timeout | null = null;
  private takeBackAt = Infinity;
  /** When the host began to start this cell, and whether the agent's hello showed it reads the same clock. */
  private readonly createdAt = monotonicMs();
  private clockShared = false;
  /** The capability channel's frames (see protocol/cap-channel.ts), and whether a call on it awaits its reply. */
  private readonly capDecoder: FrameDecoder;
  private capCallPending = false;
  private readonly draining = new Map<number, Draining>();
  private readonly readyPromise: Promise<void>;
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;

  /** `maxParked`: as the agent was told (AgentConfig.maxParked). */
  constructor(readonly isolation: Isolation, protected readonly options: CellSpawnOptions, maxParked = 0) {
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.maxParked = maxParked;
    this.inCellJobs = new InCell<Job>(maxParked);
    this.decoder = new FrameDecoder(CELL_TO_HOST, (type, id, payload) => this.onFrame(type, id, payload), {
      admit: (type, id, length) => this.admit(type, id, length),
    });
    this.capDecoder = new FrameDecoder(CAP_CELL_TO_HOST, (type, id, payload) => this.onCapFrame(type, id, payload), {
      admit: (type, id, length) => {
        if (length + HEADER_BYTES > MAX_CAP_FRAME_BYTES) throw protocolError(`${TYPE_NAMES[type]} frame of ${length + HEADER_BYTES} bytes exceeds the maximum of ${MAX_CAP_FRAME_BYTES}`);
        if (!this.draining.has(id)) this.capJob(id);
      },
    });
    this.readyPromise = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.readyPromise.catch(() => {}); // observed by spawnCell; never an unhandled rejection
  }

  /** Transport: deliver whole frames to the cell. */
  abstract send(parts: Uint8Array[]): void;
  /** Transport: deliver one whole frame to the cell's end of the capability channel. */
  protected abstract capSend(frame: Uint8Array): void;
  /** Transport: end the cell now (SIGKILL, worker.terminate()). Its exit is reported through exited(). */
  protected abstract terminate(): void;
  /** Stop the running invocation `requestId` if the transport can (worker: the shared flag). The CANCEL frame is sent either way. */
  protected abstract interruptGuest(requestId: number): void;
  /**
   * Hooks around each run of an invocation, from when it may be running to its answer or its park (process cells
   * lower their CPU priority while a guest runs long). A parked invocation that resumes runs again: a new run.
   */
  protected dispatched(_req: InvokeRequest): void {}
  protected settled(): void {}
  /** Invocations the cell may hold at once, parked ones not counted (1: the next is sent when the previous is answered or parked). */
  protected pipelineDepth = 1;

  get alive(): boolean {
    return this.state === 'alive';
  }

  get pending(): number {
    return this.queue.length + this.inCellJobs.size;
  }

  /** Invocations of this cell parked now (see maxParked). */
  get parked(): number {
    return this.inCellJobs.parked;
  }

  /** Invocations sent to the cell and not answered yet (parked ones included). */
  protected get inCell(): number {
    return this.inCellJobs.size;
  }

  get maxPending(): number {
    return this.pipelineDepth;
  }

  /** How long the running invocation has been running, in ms (0 when none runs: idle, or all parked). */
  get busyMs(): number {
    return this.runner === null ? 0 : performance.now() - this.runnerSince;
  }

  /** Resolves when the agent said hello; rejects if the cell died first. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  onExit(listener: (reason: Error) => void): void {
    this.listeners.push(listener);
  }

  onParked(listener: () => void): void {
    this.parkListeners.push(listener);
  }

  /** An artifact is verified, a component lifted, here on the host (see load-message.ts). */
  async load(req: LoadRequest): Promise<ModuleHandle> {
    const message: LoadMessage = await loadMessage(req, this.options.cacheDir);
    return this.call('load', (id) => this.writer.load(id, message)) as Promise<ModuleHandle>;
  }

  /**
   * An UNLOAD frame, now: the agent handles frames in order, so the invocations already sent run first; those
   * still queued here (the pipeline full) are sent after it. Nothing to tell a cell that is not alive.
   */
  unload(handle: ModuleHandle): void {
    if (this.state !== 'alive') return;
    this.writer.unload(handle);
  }

  /** TESTS ONLY (needs unsafeTestHooks.eval at spawn): runs JavaScript inside the cell's agent. */
  unsafeEval(source: string): Promise<unknown> {
    if (this.options.unsafeTestHooks?.eval !== true) {
      return Promise.reject(new IsolaError('USAGE', 'unsafeEval needs unsafeTestHooks.eval when the cell is spawned'));
    }
    return this.call('eval', (id) => this.writer.frame(FrameType.EVAL, id, textBytes(source)));
  }

  /** What the cell sees from inside (isola doctor; see agent/probe.ts). Its answer is untrusted, like every frame. */
  probe(req: ProbeRequest): Promise<unknown> {
    return this.call('probe', (id) => this.writer.frame(FrameType.PROBE, id, textBytes(JSON.stringify(req))));
  }

  invoke(req: InvokeRequest, signal?: AbortSignal): Promise<InvokeResult> {
    if (this.state !== 'alive') return Promise.reject(cellClosed(this.state === 'closing' ? 'the cell is closing' : 'the cell is not running'));
    if (signal?.aborted) return Promise.reject(cancelled());
    let output: CallerOutput;
    try {
      checkInvocationPreopens(this.options.preopens ?? [], req.preopens);
      output = new CallerOutput(req, outputCaps(req));
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<InvokeResult>((resolve, reject) => {
      const job: Job = {
        id: 0, req, output, failWith: null, signal, resolve, reject, onAbort: undefined, done: false, startBy: undefined, takenBack: false,
        capSends: 0, state: 'sent', timer: null, cancelling: false,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  close(): Promise<void> {
    if (this.state === 'dead') return Promise.resolve();
    this.hostEnded = true;
    const done = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    if (this.state === 'alive' || this.state === 'starting') {
      this.state = 'closing';
      for (const job of this.queue.splice(0)) this.settle(job, cellClosed('the cell is closing'));
      if (this.inCellJobs.size === 0) this.shutdown();
    }
    return done;
  }

  kill(): void {
    if (this.state === 'dead') return;
    this.hostEnded = true;
    this.die(cellClosed('the cell was killed'));
    this.terminate();
  }

  // ---- for drivers ----------------------------------------------------------------------------

  /** Bytes from the cell. Anything malformed kills it. */
  protected receive(chunk: Uint8Array): void {
    if (this.state === 'dead') return;
    try {
      this.decoder.push(chunk);
    } catch (e) {
      const err = e instanceof IsolaError && e.code === 'CELL_PROTOCOL' ? e : protocolError(e instanceof Error ? e.message : String(e));
      this.die(err);
      this.terminate();
    }
  }

  /** Bytes from the cell's capability channel. Anything malformed kills it, as on the control channel. */
  protected capReceive(chunk: Uint8Array): void {
    if (this.state === 'dead') return;
    try {
      this.capDecoder.push(chunk);
    } catch (e) {
      this.die(e instanceof IsolaError && e.code === 'CELL_PROTOCOL' ? e : protocolError(e instanceof Error ? e.message : String(e)));
      this.terminate();
    }
  }

  /** The cell's process or thread is gone (`how`: "signal SIGKILL", "exit code 3", …). */
  protected exited(how: string, detail: Record<string, unknown> = {}): void {
    if (this.state !== 'dead') this.die(this.hostEnded && this.pending === 0 ? cellClosed() : cellCrashed(how, detail));
    for (const w of this.exitWaiters.splice(0)) w();
  }

  // ---- internals -------------------------------------------------------------------------------

  private call(kind: Call['kind'], sendIt: (id: number) => void): Promise<unknown> {
    if (this.state !== 'alive') return Promise.reject(cellClosed('the cell is not running'));
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { kind, resolve, reject });
      try {
        sendIt(id);
      } catch (e) {
        this.calls.delete(id);
        reject(e);
      }
    });
  }

  /** Sends queued invocations while the cell has room for them (parked ones take none). */
  private pump(): void {
    const jobs = this.inCellJobs;
    while (this.state === 'alive' && jobs.unparked < this.pipelineDepth && this.queue.length > 0) {
      const job = this.queue.shift()!;
      job.id = this.nextRequestId++;
      const takeBackAfter = this.options.takeBackAfterMs;
      // Behind one that may be running, it may wait: it carries a start-by time. Behind parked ones only it starts at
      // once (one that resumes first may still hold it up; a start-by time would also refuse it whenever the agent's
      // send buffer is full, which thousands of sleepers waking up make likely).
      const behind = jobs.unparked > 0 && this.clockShared && takeBackAfter !== undefined;
      if (behind) job.startBy = monotonicMs() + takeBackAfter;
      try {
        this.writer.invoke(job.id, job.req, job.startBy);
      } catch (e) {
        this.settle(job, e); // never reached the cell
        continue;
      }
      jobs.add(job);
      if (behind) this.armTakeBack(job.startBy!);
    }
    this.updateRunner();
  }

  private armTakeBack(at: number): void {
    if (this.takeBackTimer !== null) {
      if (at >= this.takeBackAt) return; // armed for an earlier one; it re-arms for the rest
      clearTimeout(this.takeBackTimer);
    }
    this.takeBackAt = at;
    this.takeBackTimer = setTimeout(() => {
      // A timer callback runs before the event loop polls for input; the check runs after that poll. So what
      // the cell had sent by `now` has been read (and answered invocations settled) by then.
      const now = monotonicMs();
      setImmediate(() => {
        this.takeBackTimer = null;
        this.takeBackAt = Infinity;
        this.takeBack(now);
      });
    }, Math.max(1, Math.ceil(at - monotonicMs())));
    this.takeBackTimer.unref?.();
  }

  /**
   * Fails with takenBack() each invocation in the cell that provably never started (in-cell.ts) and whose start-by
   * time is at or before `readAfter` (everything the cell sent before `readAfter` has been read): past its start-by
   * time the agent never starts it.
   */
  private takeBack(readAfter: number): void {
    if (this.state === 'dead') return;
    const jobs = this.inCellJobs;
    let next: number | undefined;
    for (const job of jobs.sent) {
      if (job.done || job.startBy === undefined || !jobs.neverStarted(job)) continue;
      if (job.startBy <= readAfter) {
        job.takenBack = true;
        this.settle(job, takenBack());
      } else {
        next = Math.min(next ?? Infinity, job.startBy);
      }
    }
    if (next !== undefined) this.armTakeBack(next);
  }

  /**
   * After every change to what is in the cell: if the invocation that may be running is another one now, the last
   * one's run ends for the driver's hooks (answered or parked), and the new one's begins; a head begins its
   * watchdog anew (it starts only now, as far as the host can tell).
   */
  private updateRunner(): void {
    const next = this.inCellJobs.running ?? null;
    if (next === this.runner) return;
    const prev = this.runner;
    this.runner = next;
    if (prev !== null && !prev.takenBack) this.settled();
    if (next === null) return;
    this.runnerSince = performance.now();
    if (next.state === 'sent') this.watch(next);
    if (!next.takenBack) this.dispatched(next.req);
  }

  /** The watchdog of an invocation that starts now: it must answer within its timeout and killGraceMs. */
  private watch(job: Job): void {
    const timeoutMs = job.req.limits?.timeoutMs;
    if (timeoutMs === undefined || job.cancelling) return;
    this.arm(job, timeoutMs + this.killGraceMs, () => this.overdue(job));
  }

  /**
   * An invocation is past its timeout and grace. Running: the cell is hung, kill it. Parked: the agent answers it
   * as soon as its thread is free, so only if nothing else runs there (else look again later). Sent behind the
   * one running: it has not started (its watchdog starts again when it does).
   */
  private overdue(job: Job): void {
    const running = this.inCellJobs.running;
    if (job === running) this.kill9();
    else if (job.state === 'parked') {
      if (running === undefined) this.kill9();
      else this.arm(job, this.killGraceMs, () => this.overdue(job));
    }
  }

  private arm(job: Job, ms: number, fire: () => void): void {
    if (job.timer !== null) clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      job.timer = null;
      if (this.state !== 'dead') fire();
    }, ms);
    job.timer.unref?.();
  }

  /** The host gives up on the cell: it is killed, and its death fails what is in it. */
  private kill9(): void {
    if (this.state === 'dead') return;
    this.state = 'dying';
    this.terminate();
  }

  private abort(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.settle(job, cancelled());
      return;
    }
    const jobs = this.inCellJobs;
    if (job.done || jobs.find(job.id) !== job) return;
    if (job.state === 'parked') {
      // Its guest sleeps: the agent wakes it to end it (CANCELLED). The caller is answered now, with the output the
      // cell sent so far; the cell's answer is dropped when it comes (the agent may be busy with another guest).
      this.writer.frame(FrameType.CANCEL, job.id);
      this.settle(job, job.output.failed(cancelled()));
      return;
    }
    if (job !== jobs.running) {
      // Behind the one running: it has not started, but it is in the cell. Answer the caller now; the cell's
      // answer is dropped when it comes (the guest's own limits bound what it costs).
      this.settle(job, cancelled());
      return;
    }
    this.interruptGuest(job.id);
    this.writer.frame(FrameType.CANCEL, job.id);
    // A guest in a tight loop may not see it (a process cell reads frames only between invocations): kill. Until
    // then the job is what runs, so that the cell's death fails only it (CANCELLED, after the output the cell sent
    // before it died) and leaves those behind it notStarted. If it parks meanwhile, the agent reads the CANCEL.
    job.cancelling = true;
    this.arm(job, this.killGraceMs, () => {
      if (job === this.inCellJobs.running) {
        job.failWith = cancelled();
        this.kill9();
      } else if (job.state === 'parked') this.settle(job, job.output.failed(cancelled()));
    });
  }

  /**
   * The running invocation answered (or was given up on). `awaitSends`: its answer counts more capability sends
   * than have been read; it settles when they are in (see onCapFrame).
   */
  private finish(job: Job, outcome: InvokeResult | unknown, ok = false, awaitSends = 0): void {
    if (this.inCellJobs.running !== job) return;
    this.inCellJobs.answered(job);
    if (job.timer !== null) {
      clearTimeout(job.timer);
      job.timer = null;
    }
    if (!job.takenBack) this.invocations++;
    if (awaitSends > 0) {
      const timer = setTimeout(() => {
        if (!this.draining.has(job.id)) return;
        this.die(protocolError(`request ${job.id} announced ${awaitSends} capability sends and sent ${job.capSends}`));
        this.terminate();
      }, CAP_SENDS_GRACE_MS);
      timer.unref?.();
      this.draining.set(job.id, { job, result: outcome as InvokeResult, want: awaitSends, timer });
    } else {
      this.settle(job, outcome, ok);
    }
    this.afterChange();
  }

  /** Something left the cell's thread (an answer, a park): the next may run, room may have opened, a closing cell may go. */
  private afterChange(): void {
    if (this.state === 'alive') this.pump();
    else if (this.state === 'closing') {
      this.updateRunner();
      if (this.inCellJobs.size === 0 && this.queue.length === 0) this.shutdown();
    }
  }

  private settle(job: Job, outcome: unknown, ok = false): void {
    if (job.done) return;
    job.done = true;
    job.output.close();
    if (job.onAbort !== undefined) job.signal!.removeEventListener('abort', job.onAbort);
    if (ok) job.resolve(outcome as InvokeResult);
    else job.reject(outcome);
  }

  private shutdown(): void {
    this.writer.frame(FrameType.SHUTDOWN, 0);
    // An agent that ignores shutdown is killed.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kill9();
    }, Math.max(this.killGraceMs, 2000));
    this.timer.unref?.();
  }

  /** Fails everything in flight with `err`, once; tells onExit listeners unless the host ended the cell. */
  private die(err: IsolaError): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.takeBackTimer !== null) clearTimeout(this.takeBackTimer);
    this.takeBackTimer = null;
    this.readyReject(err); // no-op once ready
    const { started, notStarted: waited } = this.inCellJobs.clear();
    if (this.runner !== null && !this.runner.takenBack) this.settled();
    this.runner = null;
    // The one running and the parked ones (they started): the cell's death is their failure.
    for (const job of started) {
      if (job.timer !== null) clearTimeout(job.timer);
      if (!job.takenBack) this.invocations++;
      this.settle(job, job.output.failed(job.failWith ?? err));
    }
    // Never started (the cell starts its invocations in order): say so, so that a pool may retry them.
    for (const job of [...waited, ...this.queue.splice(0)]) {
      if (job.timer !== null) clearTimeout(job.timer);
      this.settle(job, notStarted(err));
    }
    // Answered, but what they sent on the capability channel never all came: their responses are incomplete.
    for (const d of this.draining.values()) {
      clearTimeout(d.timer);
      this.settle(d.job, err);
    }
    this.draining.clear();
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    if (!this.hostEnded) for (const l of this.listeners) l(err);
  }

  private onFrame(type: FrameType, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.DATA: {
        const job = this.inCellJobs.runningOne(id, 'data frame');
        const { slot, bytes } = dataFrameSlot(payload);
        if (slot === DATA_INPUT) throw protocolError(`input data frame from the cell for request ${id}`);
        job.output.chunk(slot === DATA_STDERR, bytes, id);
        return;
      }
      case FrameType.PARKED:
        if (payload.length !== 0) throw protocolError(`parked frame for request ${id} is not empty`);
        this.inCellJobs.park(id);
        this.afterChange();
        for (const l of this.parkListeners) l();
        return;
      case FrameType.RESUMED: {
        if (payload.length !== 0) throw protocolError(`resumed frame for request ${id} is not empty`);
        this.inCellJobs.resume(id);
        this.updateRunner();
        // Those sent meanwhile cannot start before it parks again or answers: past their start-by time, take them back.
        const first = this.inCellJobs.sent.find((j) => !j.done && j.startBy !== undefined);
        if (first !== undefined) this.armTakeBack(first.startBy!);
        return;
      }
      case FrameType.READY:
        if (id === 0) {
          if (this.state !== 'starting') throw protocolError('a second hello');
          this.clockShared = this.sharesClock(payload);
          this.state = 'alive';
          this.readyResolve();
          return;
        }
        this.reply(id, 'load').resolve(bytesText(payload));
        return;
      case FrameType.RESULT: {
        const job = this.inCellJobs.runningOne(id, 'result');
        if (job.takenBack) throw protocolError(`request ${id} ran after its start-by time (it had been taken back)`);
        const { res, hasOutput, hasStderr, capSends } = decodeResult(payload);
        if (capSends > 0 && job.req.host === undefined) throw protocolError(`request ${id} counts capability sends, but was given no capabilities`);
        if (capSends < job.capSends) throw protocolError(`request ${id} counts ${capSends} capability sends, but sent ${job.capSends}`);
        const failedCallback = job.output.callbackFailure;
        if (failedCallback !== null) this.finish(job, failedCallback.failure);
        else if (job.capSends < capSends) this.finish(job, job.output.result(res, hasOutput, hasStderr), true, capSends);
        else this.finish(job, job.output.result(res, hasOutput, hasStderr), true);
        return;
      }
      case FrameType.ERROR: {
        const err = decodeError(payload);
        const job = this.inCellJobs.running;
        if (job !== undefined && job.id === id) {
          // "Never started" means the pool may run it again: believed only of one sent behind another, not seen to start.
          if (wasNotStarted(err) && (job.startBy === undefined || job.state !== 'sent')) {
            throw protocolError(`request ${id} was not queued or has started, yet the cell says it never started`);
          }
          this.finish(job, job.output.failed(wasNotStarted(err) ? takenBack() : err));
        } else this.reply(id, 'load').reject(err);
        return;
      }
      case FrameType.PROBE_RESULT: {
        let report: unknown;
        try {
          report = JSON.parse(bytesText(payload));
        } catch {
          throw protocolError('probe-result frame holds malformed JSON');
        }
        this.reply(id, 'probe').resolve(report);
        return;
      }
      case FrameType.EVAL_RESULT: {
        const r = decodeEvalResult(payload);
        const call = this.reply(id, 'eval');
        if (r.ok) call.resolve(r.value);
        else call.reject(new Error(r.error));
        return;
      }
      default:
        throw protocolError(`the host cannot serve frame type ${type} on the control channel`);
    }
  }

  /**
   * A capability frame from the running invocation, for the capabilities its caller gave it (InvokeRequest.host).
   * One call at a time (the guest waits for it); its reply goes back even when the invocation was settled
   * meanwhile (cancelled), because the agent is waiting for it. A handler that throws on a send or fails a
   * call was given something isola's agent never sends: the cell is killed.
   */
  private onCapFrame(type: FrameType, id: number, payload: Uint8Array): void {
    const d = this.draining.get(id);
    const job = d?.job ?? this.capJob(id);
    const host = job.req.host;
    if (host === undefined) throw protocolError(`capability frame for request ${id}, which was given no capabilities`);
    const { op, data } = capPayload(payload);
    if (type === FrameType.CAP_SEND) {
      job.capSends++;
      if (d !== undefined && job.capSends > d.want) throw protocolError(`request ${id} sent more capability frames than its answer counted`);
      host.send(op, data);
      if (d !== undefined && job.capSends === d.want) {
        clearTimeout(d.timer);
        this.draining.delete(id);
        this.settle(job, d.result, true);
      }
      return;
    }
    if (d !== undefined) throw protocolError(`a capability call from request ${id}, which has answered`);
    if (this.capCallPending) throw protocolError('a capability call while another is unanswered');
    this.capCallPending = true;
    host.call(op, data).then((reply) => {
      this.capCallPending = false;
      if (this.state === 'dead') return;
      if (reply.length > MAX_CAP_DATA + 1) throw new Error(`a capability reply of ${reply.length} bytes`);
      const head = new Uint8Array(HEADER_BYTES);
      writeHeader(head, FrameType.CAP_REPLY, id, reply.length);
      this.capSend(joinParts([head, reply]));
    }).catch((e: unknown) => {
      this.capCallPending = false;
      if (this.state === 'dead') return;
      this.die(protocolError(`capability call refused: ${e instanceof Error ? e.message : String(e)}`));
      this.terminate();
    });
  }

  /** Called with each frame's header, before its payload is buffered (see FrameAdmit). */
  private admit(type: FrameType, id: number, payloadLength: number): void {
    if (type !== FrameType.DATA) {
      if (payloadLength + HEADER_BYTES > MAX_CONTROL_FRAME_BYTES) {
        throw protocolError(`${TYPE_NAMES[type]} frame of ${payloadLength + HEADER_BYTES} bytes exceeds the maximum of ${MAX_CONTROL_FRAME_BYTES}`);
      }
      return;
    }
    const job = this.inCellJobs.runningOne(id, 'data frame');
    if (payloadLength - 1 > job.output.room) {
      throw protocolError(`data frame of ${payloadLength - 1} bytes for request ${id} exceeds what its output caps leave (${job.output.room})`);
    }
  }

  /**
   * The invocation a capability frame belongs to: one in the cell. Not only the running one: the channels are not
   * ordered with each other, so the next invocation's frames may be read before the answer (or PARKED) that ended
   * the last one's run (an invocation's own frames all come before its answer: it makes a last call, which the host
   * answers, first).
   */
  private capJob(id: number): Job {
    const job = this.inCellJobs.find(id);
    if (job === undefined || job.takenBack) throw protocolError(`capability frame for request ${id}, which is not in the cell`);
    return job;
  }

  /** The hello carries the agent's monotonicMs(): within the time the host spent starting it, it reads the same clock. */
  private sharesClock(payload: Uint8Array): boolean {
    if (payload.length !== 8) return false;
    const t = new ByteReader(payload, 'ready').f64();
    return t >= this.createdAt && t <= monotonicMs();
  }

  private reply(id: number, kind: Call['kind']): Call {
    const call = this.calls.get(id);
    if (call === undefined || call.kind !== kind) throw protocolError(`${kind} reply for unknown request ${id}`);
    this.calls.delete(id);
    return call;
  }
}
