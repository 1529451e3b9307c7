/**
 * The `worker` driver: the agent in a worker_threads worker with a V8 heap limit. Frames travel over
 * the worker's port as transferred buffers; a running guest is cancelled through a SharedArrayBuffer
 * flag that the engine's fuel meter checks. A worker that dies fails only its own invocations.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { joinParts } from './protocol/index.js';
import { defaultCacheDir } from '../engine/cache-dir.js';
import type { AgentConfig } from './agent/core.js';
import { workerAgentEntry } from './agent-entry.js';
import { exitDescription } from './cell-errors.js';
import { RemoteCell } from './remote-cell.js';
import type { CellSpawnOptions } from './types.js';

const DEFAULT_MEMORY = 1024 * 1024 * 1024;

export class WorkerCell extends RemoteCell {
  private readonly worker: Worker;
  private readonly cancelFlag: Int32Array;
  /** The capability channel: our port, and the flag raised when a reply is posted (the agent waits on it). */
  private readonly capPort: MessagePort;
  private readonly capFlag: Int32Array;
  private failure: string | null = null;
  private terminatedByHost = false;

  constructor(options: CellSpawnOptions) {
    super('worker', options);
    const shared = new SharedArrayBuffer(4);
    this.cancelFlag = new Int32Array(shared);
    const config: AgentConfig = {
      // Resolved here: the worker has no environment (ISOLA_CACHE_DIR, HOME) to find the default by itself.
      preopens: options.preopens ?? [], cacheDir: options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir,
      noPathChecks: options.unsafeTestHooks?.noPathChecks, eval: options.unsafeTestHooks?.eval,
    };
    const cap = new MessageChannel();
    this.capPort = cap.port1;
    const capShared = new SharedArrayBuffer(4);
    this.capFlag = new Int32Array(capShared);
    this.capPort.on('message', (m: Uint8Array) => this.capReceive(m));
    this.capPort.unref(); // the worker keeps the host alive while it runs, not this port
    const heapMb = Math.max(32, Math.floor((options.memoryLimitBytes ?? DEFAULT_MEMORY) / (1024 * 1024)));
    this.worker = new Worker(workerAgentEntry(), {
      workerData: { config, cancel: shared, capPort: cap.port2, capFlag: capShared },
      transferList: [cap.port2],
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
      stdout: false, stderr: false, env: {}, // the guest's WASI env comes from invocations, never from here
      execArgv: [], // not the host's Node flags (--input-type, --inspect, … can break or slow a worker)
    });
    this.worker.on('message', (m: Uint8Array) => this.receive(m));
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.failure = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : e.message;
    });
    this.worker.on('exit', (code) => {
      const how = this.terminatedByHost ? 'worker terminated' : this.failure ?? exitDescription(code, null);
      this.capPort.close();
      this.exited(how, { exitCode: code });
    });
  }

  send(parts: Uint8Array[]): void {
    if (this.state === 'dead') return;
    const buf = joinParts(parts);
    this.worker.postMessage(buf, [buf.buffer as ArrayBuffer]);
  }

  protected capSend(frame: Uint8Array): void {
    this.capPort.postMessage(frame, [frame.buffer as ArrayBuffer]);
    Atomics.store(this.capFlag, 0, 1);
    Atomics.notify(this.capFlag, 0);
  }

  protected terminate(): void {
    this.terminatedByHost = true;
    void this.worker.terminate();
  }

  protected interruptGuest(): void {
    Atomics.store(this.cancelFlag, 0, 1);
  }
}
