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
import { maxParkedFor, workerProcessMaxParked } from './parking-limits.js';
import type { CellSpawnOptions } from './types.js';

const DEFAULT_MEMORY = 1024 * 1024 * 1024;
/**
 * Guests parked in each worker cell of this process, a slot each (they share its address space, so together they
 * park at most workerProcessMaxParked(): see parking-limits.ts). A worker's slot is zeroed when it is gone.
 */
const PARKING_SLOTS = 1024;
const parkedInProcess = new SharedArrayBuffer(4 * PARKING_SLOTS);
const freeSlots = Array.from({ length: PARKING_SLOTS }, (_, i) => PARKING_SLOTS - 1 - i);

export class WorkerCell extends RemoteCell {
  private readonly worker: Worker;
  private readonly cancelFlag: Int32Array;
  /** The capability channel: our port, and the flag raised when a reply is posted (the agent waits on it). */
  private readonly capPort: MessagePort;
  private readonly capFlag: Int32Array;
  private failure: string | null = null;
  private readonly parkingSlot: number | undefined;
  private terminatedByHost = false;

  constructor(options: CellSpawnOptions) {
    const slot = freeSlots.pop(); // none free (a thousand live workers): this one never parks
    super('worker', options, slot === undefined ? 0 : maxParkedFor(options));
    this.parkingSlot = slot;
    const shared = new SharedArrayBuffer(4);
    this.cancelFlag = new Int32Array(shared);
    const config: AgentConfig = {
      // Resolved here: the worker has no environment (ISOLA_CACHE_DIR, HOME) to find the default by itself.
      preopens: options.preopens ?? [], cacheDir: options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir,
      noPathChecks: options.unsafeTestHooks?.noPathChecks, eval: options.unsafeTestHooks?.eval, maxParked: this.maxParked,
    };
    const cap = new MessageChannel();
    this.capPort = cap.port1;
    const capShared = new SharedArrayBuffer(4);
    this.capFlag = new Int32Array(capShared);
    this.capPort.on('message', (m: Uint8Array) => this.capReceive(m));
    this.capPort.unref(); // the worker keeps the host alive while it runs, not this port
    const heapMb = Math.max(32, Math.floor((options.memoryLimitBytes ?? DEFAULT_MEMORY) / (1024 * 1024)));
    try {
      this.worker = new Worker(workerAgentEntry(), {
        workerData: {
          config, cancel: shared, capPort: cap.port2, capFlag: capShared,
          ...(slot === undefined ? {} : { parked: { counts: parkedInProcess, slot, max: workerProcessMaxParked() } }),
        },
        transferList: [cap.port2],
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
        stdout: false, stderr: false, env: {}, // the guest's WASI env comes from invocations, never from here
        execArgv: [], // not the host's Node flags (--input-type, --inspect, … can break or slow a worker)
      });
    } catch (e) {
      if (slot !== undefined) freeSlots.push(slot);
      throw e;
    }
    this.worker.on('message', (m: Uint8Array) => this.receive(m));
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.failure = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out of memory' : e.message;
    });
    this.worker.on('exit', (code) => {
      const how = this.terminatedByHost ? 'worker terminated' : this.failure ?? exitDescription(code, null);
      this.capPort.close();
      if (this.parkingSlot !== undefined) {
        Atomics.store(new Int32Array(parkedInProcess), this.parkingSlot, 0); // what it had parked is gone with it
        freeSlots.push(this.parkingSlot);
      }
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

  /** The flag names the invocation to stop (Limits.cancelId): by the time it is read, the one named may have parked. */
  protected interruptGuest(requestId: number): void {
    Atomics.store(this.cancelFlag, 0, requestId);
  }
}
