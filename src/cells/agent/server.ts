/**
 * The agent behind the protocol: decodes frames from the host, runs them on an AgentCore, answers.
 * Frames are handled one at a time, in order; a guest runs synchronously on the agent's only thread.
 */
import { createRequire } from 'node:module';
import {
  DATA_INPUT, DataStage, FrameDecoder, FrameType, FrameWriter, HOST_TO_CELL, bytesText, decodeInvoke, decodeLoad,
  encodeError, encodeEvalResult, protocolError, textBytes, type FrameSink,
} from '../protocol/index.js';
import { AgentCore, type AgentConfig } from './core.js';

export class AgentServer {
  readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly stage = new DataStage();
  private readonly core: AgentCore;

  constructor(private readonly config: AgentConfig, sink: FrameSink, private readonly onShutdown: () => void, cancelFlag?: Int32Array) {
    this.core = new AgentCore(config, cancelFlag, true); // output is copied into frames: views of guest memory suffice
    this.writer = new FrameWriter(sink);
    // Reused assembly buffers: every payload is consumed before the frame after next (invocations run synchronously).
    this.decoder = new FrameDecoder(HOST_TO_CELL, (type, id, payload) => this.onFrame(type, id, payload), undefined, true);
  }

  /** Tells the host the agent is up (READY with request id 0). */
  hello(): void {
    this.writer.frame(FrameType.READY, 0);
  }

  private onFrame(type: FrameType, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.DATA:
        this.stage.put(id, payload);
        return;
      case FrameType.LOAD:
        this.answer(id, () => {
          const m = decodeLoad(payload);
          // A copy: the engine keeps the original bytes (backtraces, variants), the frame buffer is reused.
          this.writer.frame(FrameType.READY, id, textBytes(this.core.load(m.bytes.slice(), m.compile)));
        });
        return;
      case FrameType.INVOKE: {
        const { req, hasInput } = decodeInvoke(payload);
        const input = this.stage.take(id, DATA_INPUT, hasInput);
        this.stage.clear(id);
        if (input !== undefined) req.input = input;
        this.answer(id, () => this.writer.result(id, this.core.invoke(req)));
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
      default:
        throw protocolError(`the agent cannot handle frame type ${type} yet`);
    }
  }

  private answer(id: number, work: () => void): void {
    try {
      work();
    } catch (e) {
      this.writer.frame(FrameType.ERROR, id, encodeError(e));
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
