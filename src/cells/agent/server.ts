/**
 * The agent behind the protocol: decodes frames from the host, runs them on an AgentCore, answers.
 * Frames are handled one at a time, in order; a guest runs synchronously on the agent's only thread.
 *
 * Parking (where JSPI exists and config.maxParked > 0; see parking.ts): a WASI command that sleeps parks instead of
 * blocking the thread. The agent tells the host (PARKED) and goes on with the next frame; the guest runs again
 * between frames when its sleep ends (RESUMED first), and answers then. A guest that may park runs through a
 * promise even when it never sleeps, so the agent holds its next frames back (decoder.pause) until that guest has
 * parked or answered: invocations still start in order, each after the one before it answered or parked, and an
 * answer still leaves before the next invocation starts (see mayStart).
 */
import { createRequire } from 'node:module';
import {
  DATA_INPUT, FrameDecoder, copyBytes, FrameType, FrameWriter, HOST_TO_CELL, bytesText, dataFrameSlot, decodeInvoke, decodeLoad, decodeUnload,
  encodeEvalResult, monotonicMs, protocolError, textBytes, ByteWriter, type DirectSink, type FrameSink,
} from '../protocol/index.js';
import { cellClosed, notStarted } from '../cell-errors.js';
import type { InvokeRequest, InvokeResult } from '../types.js';
import { AgentCore, type AgentConfig, type OpenedBuffer } from './core.js';
import type { AgentHostChannel } from './host-channel.js';
import { OutputBatch } from './output-batch.js';
import { ParkableRun, Parking, type SharedParking } from './parking.js';
import { probe, type ProbeRequest } from './probe.js';
import { JSPI } from '../../engine/jspi.js';

export interface AgentServerOptions {
  /** The host asked the agent to stop. */
  onShutdown(): void;
  /** The worker's shared cancel flag (the host writes the request id of the invocation to stop; see Limits.cancelId). */
  cancelFlag?: Int32Array;
  /** The transport reuses the memory of the chunks it pushes (process cells read into one buffer). */
  volatileChunks?: boolean;
  /** The capability channel (host-channel.ts), which the running invocation's capability code uses. */
  channel?: AgentHostChannel;
  /** Worker cells: the parked guests of every worker of the host process, and their maximum together (parking.ts). */
  sharedParking?: SharedParking;
  /** A protocol error found outside push() (in frames held back while a guest was suspended): the agent must end. */
  onFatal?(e: unknown): void;
}

/** Output batches kept for reuse after the parked invocations that held them answered. */
const SPARE_BATCHES = 16;

/** An invoke whose input (the next frame, a DATA frame of the same request) has not arrived yet. */
interface Waiting {
  id: number;
  req: InvokeRequest;
  opened: OpenedBuffer | null;
  startBy: number | undefined;
}

export class AgentServer {
  readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly core: AgentCore;
  private waiting: Waiting | null = null;
  /** The output batch of the next invocation to start (a parked one keeps its own). */
  private batch: OutputBatch;
  private readonly spareBatches: OutputBatch[] = [];
  private readonly channel: AgentHostChannel | undefined;
  /** Null where guests never park. */
  private readonly parking: Parking | null;

  constructor(private readonly config: AgentConfig, private readonly sink: FrameSink, private readonly options: AgentServerOptions) {
    this.channel = options.channel;
    this.core = new AgentCore(config, options.cancelFlag, true, options.channel); // output is copied into frames: views of guest memory suffice
    this.writer = new FrameWriter(sink);
    this.batch = new OutputBatch(this.writer);
    const maxParked = config.maxParked ?? 0;
    this.parking = JSPI && maxParked > 0 ? new Parking(maxParked, { parked: (r) => this.parked(r), resumed: (r) => this.resumed(r) }, options.sharedParking) : null;
    // Reused assembly buffers: every payload is consumed before the frame after next (invocations run synchronously;
    // one that parks copies what it keeps). A buffer invocation's input goes straight into the guest's buffer as it
    // arrives (see direct).
    this.decoder = new FrameDecoder(HOST_TO_CELL, (type, id, payload) => this.onFrame(type, id, payload), {
      reuse: true, direct: this.direct, volatileChunks: options.volatileChunks === true,
    });
  }

  /** Tells the host the agent is up (READY with request id 0), and the time on the shared clock (the host checks it is shared). */
  hello(): void {
    this.writer.frame(FrameType.READY, 0, new ByteWriter(8).f64(monotonicMs()).take());
  }

  /**
   * An invocation the host queued behind another carries a start-by time: from then on the host may run it
   * elsewhere, so it must not start here. Nor while an earlier answer still waits in this side's send buffer:
   * the host concludes "never started" from not having that answer (see RemoteCell.takeBack).
   */
  private mayStart(startBy: number | undefined): boolean {
    return startBy === undefined || (monotonicMs() < startBy && this.sink.backlogged?.() !== true);
  }

  private checkStart(startBy: number | undefined): void {
    if (!this.mayStart(startBy)) throw notStarted(cellClosed('not started: it waited in the cell past its start-by time'));
  }

  /**
   * The input of a waiting buffer invocation: instantiate now and let the decoder copy the bytes into the
   * guest's buffer while they arrive (the copy's page faults overlap the transfer). Anything unusual (an
   * instantiation error, input larger than the buffer) declines, and the ordinary path reports it.
   */
  private readonly direct: DirectSink = {
    target: (type, id, length, first) => {
      const w = this.waiting;
      if (type !== FrameType.DATA || first !== DATA_INPUT || w === null || w.id !== id || w.req.kind !== 'buffer') return null;
      if (!this.mayStart(w.startBy)) return null; // the ordinary path answers
      try {
        const opened = this.core.openBuffer(w.req, id);
        if (opened.target.length < length) {
          opened.abandon();
          return null;
        }
        w.opened = opened;
        return opened.target;
      } catch {
        return null;
      }
    },
    done: (_type, id, _first, bytes) => {
      const w = this.waiting!;
      this.waiting = null;
      this.answer(id, () => this.writer.result(id, w.opened!.finish(bytes.length)));
    },
  };

  private onFrame(type: FrameType, id: number, payload: Uint8Array): void {
    const w = this.waiting;
    if (w !== null && (type !== FrameType.DATA || id !== w.id)) throw protocolError(`request ${w.id} is still waiting for its input`);
    switch (type) {
      case FrameType.DATA: {
        const { slot, bytes } = dataFrameSlot(payload);
        if (w === null || slot !== DATA_INPUT) throw protocolError(`data frame (slot ${slot}) for request ${id}, which expects none`);
        this.waiting = null;
        w.req.input = bytes;
        this.run(id, w.req, w.startBy);
        return;
      }
      case FrameType.LOAD:
        this.answer(id, () => {
          const m = decodeLoad(payload);
          // Copies: the engine keeps the bytes (backtraces, variants), the frame buffer is reused.
          const verified = m.verified && { ...m.verified, instrumented: copyBytes(m.verified.instrumented) };
          const component = m.component && { ...m.component, cores: m.component.cores.map(([n, b]): [string, Uint8Array] => [n, copyBytes(b)]) };
          this.writer.frame(FrameType.READY, id, textBytes(this.core.load(copyBytes(m.bytes), m.compile, verified, component)));
        });
        return;
      case FrameType.INVOKE: {
        const { req, hasInput, startBy } = decodeInvoke(payload);
        if (hasInput) this.waiting = { id, req, opened: null, startBy };
        else this.run(id, req, startBy);
        return;
      }
      case FrameType.UNLOAD: {
        // No reply. A payload that cannot be a handle names no loaded module: nothing to do, as for an unknown one.
        const handle = decodeUnload(payload);
        if (handle !== null) this.core.unload(handle);
        return;
      }
      case FrameType.CANCEL:
        // Nothing runs between frames but parked guests; a worker's running guest is stopped through the shared flag.
        this.parking?.cancel(id);
        return;
      case FrameType.SHUTDOWN:
        this.options.onShutdown();
        return;
      case FrameType.EVAL:
        if (this.config.eval !== true) throw protocolError('eval frames are not enabled in this cell');
        void this.evaluate(id, bytesText(payload));
        return;
      case FrameType.PROBE:
        void probe(JSON.parse(bytesText(payload)) as ProbeRequest).then((report) => this.writer.frame(FrameType.PROBE_RESULT, id, textBytes(JSON.stringify(report))));
        return;
      default:
        throw protocolError(`the agent cannot handle frame type ${type} yet`);
    }
  }

  private answer(id: number, work: () => void): void {
    try {
      work();
    } catch (e) {
      this.writer.error(id, e);
    }
  }

  /**
   * An invocation: its output goes out while it runs, and what is still held leaves with its result or error.
   * One that arrived past its start-by time is not started: it is answered "not started" at once.
   */
  private run(id: number, req: InvokeRequest, startBy: number | undefined): void {
    if (!this.mayStart(startBy)) {
      this.answer(id, () => this.checkStart(startBy));
      return;
    }
    const batch = this.batch;
    batch.begin(id);
    this.channel?.begin(id);
    if (this.parking !== null && this.core.parks(req)) {
      this.runParkable(new ParkableRun(id, batch, this.parking), req);
      return;
    }
    let res: InvokeResult;
    try {
      res = this.core.invoke(req, batch.output, id);
    } catch (e) {
      this.answerError(id, batch, e);
      return;
    }
    this.answerResult(id, batch, res);
  }

  private answerResult(id: number, batch: OutputBatch, res: InvokeResult): void {
    batch.drain();
    // What the invocation sent on the capability channel goes first; its result says how much (see RemoteCell).
    this.channel?.flush();
    this.writer.result(id, res, batch.streamed, this.channel?.sent ?? 0);
  }

  private answerError(id: number, batch: OutputBatch, e: unknown): void {
    batch.drain();
    this.writer.error(id, e);
  }

  /**
   * An invocation that may park. Its promise settles in a microtask at the earliest, so unless it parked already
   * the frames after it wait (decoder.pause) until it parks or answers: the next invocation must not start first.
   */
  private runParkable(run: ParkableRun, req: InvokeRequest): void {
    let pending: Promise<InvokeResult>;
    try {
      pending = this.core.invokeParking(req, run.batch.output, run.hooks, run.id);
    } catch (e) {
      this.answerError(run.id, run.batch, e);
      return;
    }
    pending.then((res) => this.ended(run, res, null), (e: unknown) => this.ended(run, null, e));
    if (!run.parked) {
      run.holdsDecoder = true;
      this.decoder.pause();
    }
  }

  /** A parkable invocation answered (its channel state is the channel's: it was the last to run). */
  private ended(run: ParkableRun, res: InvokeResult | null, e: unknown): void {
    const batch = run.batch;
    if (res !== null) this.answerResult(run.id, batch, res);
    else this.answerError(run.id, batch, e);
    if (batch !== this.batch && this.spareBatches.length < SPARE_BATCHES) this.spareBatches.push(batch);
    if (run.holdsDecoder) {
      run.holdsDecoder = false;
      this.resumeDecoder();
    }
  }

  /** Its output was flushed (WasiContext.beforeParking): the host learns it is parked, the next frames may run. */
  private parked(run: ParkableRun): void {
    if (this.channel !== undefined) run.channel = this.channel.suspend();
    if (run.batch === this.batch) this.batch = this.spareBatches.pop() ?? new OutputBatch(this.writer);
    this.writer.frame(FrameType.PARKED, run.id);
    if (run.holdsDecoder) {
      run.holdsDecoder = false;
      // Not from here: the guest's stack is suspended only once this import returns its promise.
      queueMicrotask(() => this.resumeDecoder());
    }
  }

  /** It runs again now (between frames): the host learns it first; its hold on the channel comes back. */
  private resumed(run: ParkableRun): void {
    this.writer.frame(FrameType.RESUMED, run.id);
    if (run.channel !== null && this.channel !== undefined) this.channel.restore(run.channel);
    run.channel = null;
  }

  private resumeDecoder(): void {
    try {
      this.decoder.resume();
    } catch (e) {
      (this.options.onFatal ?? rethrow)(e);
    }
  }

  /** TESTS ONLY: "the first wall has fallen" — run the host's JavaScript here (async allowed). */
  private async evaluate(id: number, source: string): Promise<void> {
    (globalThis as { require?: NodeRequire }).require ??= createRequire(import.meta.url);
    let reply: Uint8Array;
    try {
      const value: unknown = await (0, eval)(source);
      reply = encodeEvalResult(true, value);
    } catch (e) {
      reply = encodeEvalResult(false, e instanceof Error ? `${e.name}: ${e.message}` : e);
    }
    this.writer.frame(FrameType.EVAL_RESULT, id, reply);
  }
}

function rethrow(e: unknown): void {
  setImmediate(() => {
    throw e;
  });
}
