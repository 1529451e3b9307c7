/**
 * The agent behind the protocol: decodes frames from the host, runs them on an AgentCore, answers.
 * Frames are handled one at a time, in order; a guest runs synchronously on the agent's only thread.
 */
import { createRequire } from 'node:module';
import {
  DATA_INPUT, FrameDecoder, copyBytes, FrameType, FrameWriter, HOST_TO_CELL, bytesText, dataFrameSlot, decodeInvoke, decodeLoad, decodeUnload,
  encodeEvalResult, monotonicMs, protocolError, textBytes, ByteWriter, type DirectSink, type FrameSink,
} from '../protocol/index.js';
import { cellClosed, notStarted } from '../cell-errors.js';
import type { InvokeRequest } from '../types.js';
import { AgentCore, type AgentConfig, type OpenedBuffer } from './core.js';
import type { AgentHostChannel } from './host-channel.js';
import { OutputBatch } from './output-batch.js';
import { probe, type ProbeRequest } from './probe.js';

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
  private readonly batch: OutputBatch;

  /** `volatileChunks`: the transport reuses the memory of the chunks it pushes (process cells read into one buffer). */
  /** `channel`: the capability channel (host-channel.ts), which the running invocation's capability code uses. */
  constructor(private readonly config: AgentConfig, private readonly sink: FrameSink, private readonly onShutdown: () => void, cancelFlag?: Int32Array,
    volatileChunks = false, private readonly channel?: AgentHostChannel) {
    this.core = new AgentCore(config, cancelFlag, true, channel); // output is copied into frames: views of guest memory suffice
    this.writer = new FrameWriter(sink);
    this.batch = new OutputBatch(this.writer);
    // Reused assembly buffers: every payload is consumed before the frame after next (invocations run synchronously).
    // A buffer invocation's input goes straight into the guest's buffer as it arrives (see direct).
    this.decoder = new FrameDecoder(HOST_TO_CELL, (type, id, payload) => this.onFrame(type, id, payload), { reuse: true, direct: this.direct, volatileChunks });
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
        const opened = this.core.openBuffer(w.req);
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
        return; // nothing runs between frames; a worker's running guest is stopped through the shared flag
      case FrameType.SHUTDOWN:
        this.onShutdown();
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
    try {
      const res = this.core.invoke(req, batch.output);
      batch.drain();
      // What the invocation sent on the capability channel goes first; its result says how much (see RemoteCell).
      this.channel?.flush();
      this.writer.result(id, res, batch.streamed, this.channel?.sent ?? 0);
    } catch (e) {
      batch.drain();
      this.writer.error(id, e);
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
