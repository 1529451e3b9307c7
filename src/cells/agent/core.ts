/**
 * The guest agent's work, free of any transport: compile a module once (fuel metering on, so timeouts
 * and cancellation can interrupt it), then run each invocation in a fresh instance. Used in-thread by
 * inline cells and behind the frame protocol by worker and process cells.
 */
import { createHash } from 'node:crypto';
import { IsolaError } from '../../errors.js';
import { Engine } from '../../engine/index.js';
import type { CompiledModule } from '../../engine/compiled-module.js';
import type { Instance } from '../../engine/instance.js';
import type { CompileOptions, Limits } from '../../engine/limits.js';
import { checkInputFits, openBuffer, type BufferCall } from '../../engine/buffer-abi.js';
import { isArtifact } from '../../engine/artifact-magic.js';
import { invokeAsText } from '../../engine/invoke-text.js';
import { importsWasi } from '../../wasm/inspect.js';
import {
  runWasiCommand, runWasiCommandParking, startWasiReactor, type ParkHooks, type Preopen, type WasiOptions, type WasiP1,
} from '../../capabilities/wasi-p1/index.js';
import { JSPI } from '../../engine/jspi.js';
import { outputCaps, type OutputCaps } from '../output-caps.js';
import type { InvokeRequest, InvokeResult, ModuleHandle } from '../types.js';
import { capturedOutput, type GuestOutput, type GuestOutputFactory } from './guest-output.js';
import type { LiftedParts, VerifiedParts } from '../protocol/index.js';
import type { CompiledComponent, ComponentInstance } from '../../engine/component/compiled-component.js';
import { isComponentBinary } from '../../wasm/component/header.js';
import { runComponentCommand, WasiP2 } from '../../capabilities/wasi-p2/index.js';
import { invokeWave } from '../../engine/component/invoke-wave.js';
import { channelDone, channelRequestBody, channelResponseSink, serveHttpRequest } from '../../capabilities/wasi-http/index.js';
import type { OutputSink } from '../../capabilities/wasi-p1/stdio.js';
import type { HostChannel } from './host-channel.js';
import type { ExtraImports } from '../../capabilities/wasi-p1/run.js';
import { KvClient } from '../../capabilities/keyvalue/guest/client.js';
import { CORE_KV_MODULE, coreKeyValueImports } from '../../capabilities/keyvalue/guest/core-imports.js';
import { componentKeyValueImports } from '../../capabilities/keyvalue/guest/component-imports.js';

export interface AgentConfig {
  /** The cell's preopens as the agent sees them (inside a jail: where they are mounted). */
  preopens: Preopen[];
  /** Engine compile cache (`null`: memory only; process cells always null). */
  cacheDir?: string | null;
  /** TESTS ONLY: switch off the WASI layer's own path checks (only the jail remains). */
  noPathChecks?: boolean;
  /** TESTS ONLY: accept eval frames. */
  eval?: boolean;
  /**
   * How many guests may be parked at once (a sleeping WASI command's stack suspended, the thread free: see
   * AgentServer). 0 or absent: none, every sleep blocks the thread. Worker and process cells where JSPI exists.
   */
  maxParked?: number;
  /** Whether signed artifacts may be loaded: false in process cells (the signing key stays on the host). */
  artifacts?: boolean;
  /**
   * Process cells in the unshare fallback: fds of host directories the jail was mounted from (bwrap closes
   * its own), closed before anything else runs: through one, a read-only grant could be written.
   */
  closeFds?: number[];
}

/** See AgentCore.openBuffer. */
export interface OpenedBuffer {
  readonly target: Uint8Array;
  finish(length: number): InvokeResult;
  abandon(): void;
}

const EMPTY = new Uint8Array(0);
const NO_KEY_DIR = '/nonexistent/isola-cell-has-no-signing-key';

export class AgentCore {
  private readonly engine: Engine;
  private readonly modules = new Map<ModuleHandle, CompiledModule>();
  private readonly components = new Map<ModuleHandle, CompiledComponent>();

  /**
   * `cancelFlag`: the worker's shared flag (see Limits.cancelFlag). `outputViews`: buffer output may be a
   * view of the dropped instance's memory (the protocol copies it out anyway); inline cells hand out copies.
   * `channel`: the capability channel of a worker or process cell (wasi:http's bodies cross it); none inline.
   */
  constructor(private readonly config: AgentConfig, private readonly cancelFlag?: Int32Array, private readonly outputViews = false,
    private readonly channel?: HostChannel & { flush(): void; readonly unsynced: boolean }) {
    // Without artifacts the engine never needs the signing key, so it must not look for a home directory.
    this.engine = new Engine({ cacheDir: config.cacheDir, keyDir: config.artifacts === false ? NO_KEY_DIR : undefined });
  }

  /**
   * `verified`: the parts of an artifact the host verified (`bytes` is then its original module): compiled
   * as they are. Only the host makes them (a process cell has no signing key; see load-message.ts).
   */
  load(bytes: Uint8Array, compile: CompileOptions = {}, verified?: VerifiedParts, component?: LiftedParts): ModuleHandle {
    if (component !== undefined) return this.loadComponent(bytes, compile, component);
    // A component comes lifted by the host (load-message.ts): its glue is never made or taken here.
    if (isComponentBinary(bytes)) throw new IsolaError('COMPONENT', 'a component must be loaded with its lift (the cell\'s host lifts it)');
    if (verified !== undefined) {
      const handle = handleOf(verified.instrumented, verified.options);
      if (!this.modules.has(handle)) this.modules.set(handle, this.engine.loadVerified({ ...verified, original: bytes }));
      return handle;
    }
    if (this.config.artifacts === false && isArtifact(bytes)) {
      throw new IsolaError('ARTIFACT', 'a process cell loads module bytes, not artifacts (their signing key stays on the host)');
    }
    // reuseMemory: every invocation gets a fresh instance, drawing a recycled zeroed memory (released below).
    const options: CompileOptions = {
      fuel: compile.fuel ?? true, maxMemoryBytes: compile.maxMemoryBytes, reuseMemory: true,
      maxTableElements: compile.maxTableElements, maxTotalTableElements: compile.maxTotalTableElements,
    };
    const handle = handleOf(bytes, options);
    if (!this.modules.has(handle)) this.modules.set(handle, this.engine.load(bytes, options));
    return handle;
  }

  /**
   * Forgets a loaded module or component, and lets the engine's cache go of it too, so that its compiled code and
   * pooled memories are collected: an invocation that names it afterwards fails NOT_FOUND (begin), and loading
   * the same bytes again compiles them again. An unknown handle is nothing to do.
   */
  unload(handle: ModuleHandle): void {
    const module = this.modules.get(handle);
    if (module !== undefined) {
      this.modules.delete(handle);
      // Another handle may hold the same compiled module (an artifact of the same module and options): it stays cached.
      if (!mapHolds(this.modules, module)) this.engine.forget(module);
      return;
    }
    const component = this.components.get(handle);
    if (component !== undefined) {
      this.components.delete(handle);
      if (!mapHolds(this.components, component)) this.engine.forget(component);
    }
  }

  /**
   * A component lifted by the host: its core modules compiled with fuel metering (timeouts, cancellation), like a
   * module, and small memories recycled (each invocation releases its instance).
   */
  private loadComponent(bytes: Uint8Array, compile: CompileOptions, parts: LiftedParts): ModuleHandle {
    const options: CompileOptions = {
      fuel: compile.fuel ?? true, maxMemoryBytes: compile.maxMemoryBytes, reuseMemory: true,
      maxTableElements: compile.maxTableElements, maxTotalTableElements: compile.maxTotalTableElements,
    };
    const handle = handleOf(bytes, { ...options, component: true });
    if (!this.components.has(handle)) {
      this.components.set(handle, this.engine.componentFromLift(bytes, { glue: parts.glue, cores: new Map(parts.cores), exports: parts.exports }, options));
    }
    return handle;
  }

  /**
   * Runs one invocation in a fresh instance. A WASI guest's stdout and stderr go where `output` says (captured
   * into the result by default); a buffer invocation's WASI streams are discarded (its output is the buffer).
   * A guest's failure carries the fuel it spent in `detail.fuelConsumed`.
   */
  invoke(req: InvokeRequest, output: GuestOutputFactory = capturedOutput, cancelId = 0): InvokeResult {
    const component = this.components.get(req.module);
    if (component !== undefined) return this.invokeComponent(component, req, output, cancelId);
    const { compiled, limits, started, caps } = this.begin(req, cancelId);
    switch (req.kind) {
      case 'invoke': return this.callExport(compiled, req, limits, started, () => output(caps));
      case 'buffer': return this.runBuffer(req, cancelId);
      case 'wasi': return this.runCommand(compiled, req, limits, started, output(caps));
      case 'http': throw new IsolaError('USAGE', 'an http invocation needs a wasi:http component; a core module is served as CGI');
      default: throw new IsolaError('USAGE', `unknown invocation kind ${String(req.kind)} (expected invoke, buffer or wasi)`);
    }
  }

  /**
   * Whether `req` may park (see invokeParking): where JSPI exists, a WASI command (kind 'wasi') of a core module
   * that imports poll_oneoff and has at most one memory (each parked guest holds its memory's address space, and
   * V8 reserves ~8 GiB for each). Components, exports and buffer calls sleep on the thread.
   */
  parks(req: InvokeRequest): boolean {
    if (!JSPI || req.kind !== 'wasi') return false;
    const compiled = this.modules.get(req.module);
    return compiled !== undefined && mayPark(compiled);
  }

  /**
   * invoke() for a request that parks() allows: its guest's sleeps go to `park` (it parks: its stack suspended,
   * this thread free for other invocations until the sleep ends). The promise settles when the guest ends; it is
   * never settled synchronously, even for a guest that never sleeps.
   */
  invokeParking(req: InvokeRequest, output: GuestOutputFactory, park: ParkHooks, cancelId = 0): Promise<InvokeResult> {
    const { compiled, limits, started, caps } = this.begin(req, cancelId);
    const out = output(caps);
    if (out.tick !== undefined) limits.tick = out.tick;
    let instance: Instance | undefined;
    const ran = runWasiCommandParking(compiled, this.wasiOptions(req, req.args ?? ['guest'], out), park, limits, (i) => {
      instance = i;
    }, this.coreKv(compiled, req));
    return ran.then((exitCode) => {
      const res: InvokeResult = { exitCode, fuelConsumed: instance!.fuelConsumed, durationUs: micros(started) };
      out.done(res);
      return res;
    }, (e: unknown) => {
      throw withFuel(e, instance);
    });
  }

  /**
   * A buffer invocation opened before its input is there: instantiated, the ABI checked, the guest's buffer
   * exposed as `target`; the caller writes the input into it (a process cell: straight from the socket)
   * and calls `finish(length)`, or `abandon()`.
   */
  openBuffer(req: InvokeRequest, cancelId = 0): OpenedBuffer {
    const { compiled, limits, started, caps } = this.begin(req, cancelId);
    const { instance, wasi } = this.instantiate(compiled, req, limits, null);
    let call: BufferCall;
    const done = (release: boolean) => {
      wasi?.close();
      if (release) instance.release();
    };
    try {
      call = openBuffer(instance, req.export ?? 'process_data');
    } catch (e) {
      done(true);
      throw e;
    }
    return {
      target: call.target,
      finish: (length) => {
        try {
          let output = call.run(length, !this.outputViews);
          const truncated = output.length > caps.stdout;
          if (truncated) output = output.subarray(0, caps.stdout);
          const res: InvokeResult = { output, fuelConsumed: instance.fuelConsumed, durationUs: micros(started) };
          if (truncated) res.outputTruncated = true;
          return res;
        } catch (e) {
          throw withFuel(e, instance);
        } finally {
          // With outputViews the output is a view of guest memory that process and worker cells send on,
          // possibly after this returns: that memory must not go to another instance, so no release
          // (GC frees it). Copied output leaves nothing behind that points into it.
          done(!this.outputViews);
        }
      },
      // The guest never ran, and the caller writes to `target` no more once it abandons.
      abandon: () => done(true),
    };
  }

  /**
   * A component's invocation: `wasi` runs its wasi:cli/run; `invoke` calls an export with WAVE arguments (`export`
   * a function name and `args` one WAVE value each, or `export` a whole call like `add(1, 2)`) and answers the
   * result's WAVE text in `values`.
   */
  private invokeComponent(c: CompiledComponent, req: InvokeRequest, output: GuestOutputFactory, cancelId: number): InvokeResult {
    const { limits, started, caps } = this.limitsFor(req, cancelId);
    if (req.kind === 'buffer') throw new IsolaError('USAGE', 'a component has no buffer ABI: call its exports with an invoke');
    if (req.kind !== 'wasi' && req.kind !== 'invoke' && req.kind !== 'http') throw new IsolaError('USAGE', `unknown invocation kind ${String(req.kind)} (expected invoke, wasi or http)`);
    const out = output(caps);
    if (out.tick !== undefined) limits.tick = out.tick;
    let instance: ComponentInstance | undefined;
    try {
      if (req.kind === 'wasi') {
        const exitCode = runComponentCommand(c, this.wasiOptions(req, req.args ?? ['guest'], out), limits, this.componentKv(req), (i) => {
          instance = i;
        });
        const res: InvokeResult = { exitCode, fuelConsumed: instance?.fuelConsumed ?? 0n, durationUs: micros(started) };
        out.done(res);
        return res;
      }
      if (req.kind === 'http') {
        const res = this.serveHttp(c, req, limits, started, caps, out, (i) => {
          instance = i;
        });
        res.fuelConsumed = instance?.fuelConsumed ?? 0n;
        res.durationUs = micros(started);
        out.done(res);
        return res;
      }
      if (req.export === undefined) throw new IsolaError('USAGE', "an 'invoke' invocation needs an export name");
      if (c.types === null) throw new IsolaError('USAGE', 'isola cannot read this component\'s export types (it uses component model async or threads), so it cannot type a call');
      const args = req.args ?? [];
      const call = args.length === 0 && req.export.includes('(') ? req.export : `${req.export}(${args.join(', ')})`;
      const wasi = new WasiP2(this.wasiOptions(req, [req.export], out));
      wasi.setTimeout(limits.timeoutMs);
      try {
        instance = c.instantiate({ ...wasi.imports, ...this.componentKv(req) }, limits);
        const text = invokeWave(c.types.exports, instance.exports, call);
        const res: InvokeResult = { values: text === null ? [] : [text], fuelConsumed: instance.fuelConsumed, durationUs: micros(started) };
        out.done(res);
        return res;
      } finally {
        wasi.close();
      }
    } catch (e) {
      throw withFuel(e, instance);
    } finally {
      instance?.release(); // results are text or copies by now; nothing calls into it again
    }
  }

  /**
   * One HTTP request to a wasi:http handler: its bodies cross the capability channel as the guest reads and writes
   * them (and its outbound requests), the trailers leave in the result's values; the guest's own stdout joins its
   * stderr (its log).
   */
  private serveHttp(c: CompiledComponent, req: InvokeRequest, limits: Limits, started: number, caps: OutputCaps, out: GuestOutput,
    observe: (i: ComponentInstance) => void): InvokeResult {
    const ch = this.channel;
    if (ch === undefined) throw new IsolaError('USAGE', 'wasi:http functions run in worker or process cells: an inline cell cannot wait for the network');
    const [method, pathWithQuery, scheme, authority, ...flat] = req.args ?? [];
    if (method === undefined || pathWithQuery === undefined || (scheme !== 'http' && scheme !== 'https') || authority === undefined || flat.length % 2 !== 0) {
      throw new IsolaError('USAGE', 'an http invocation takes args [method, path-with-query, scheme, authority, name, value, …]');
    }
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < flat.length; i += 2) headers.push([flat[i]!, flat[i + 1]!]);
    // What the guest sent leaves at least every millisecond of its work and before it sleeps, so a response
    // it streams slowly reaches the client as it goes; and before its result or error.
    const tick = limits.tick;
    limits.tick = () => {
      tick?.();
      ch.flush();
    };
    const log = out.stderr;
    const logAndFlush: OutputSink = {
      filetype: log.filetype,
      write: (u8, off, len) => log.write(u8, off, len),
      flush: () => {
        log.flush?.();
        ch.flush();
      },
    };
    const options = { ...this.wasiOptions(req, [pathWithQuery], out), stdout: logAndFlush, stderr: logAndFlush };
    try {
      const handled = serveHttpRequest(c, { method, pathWithQuery, scheme, authority, headers, body: channelRequestBody(ch) }, options,
        channelResponseSink(ch), caps.stdout, limits, observe, ch, this.kvClient(req));
      // The result counts the sends (AgentServer.run): the host settles it once they are all in.
      return { values: handled.trailers === null ? [] : [JSON.stringify(handled.trailers)], fuelConsumed: 0n, durationUs: 0 };
    } catch (e) {
      // An error frame has no count: whatever was sent reaches the host before it does (a last call).
      if (ch.unsynced) {
        try {
          channelDone(ch);
        } catch {
          // a broken channel: the error is all the host gets
        }
      }
      throw e;
    }
  }

  /** The module, this invocation's limits and output caps. */
  private begin(req: InvokeRequest, cancelId: number): { compiled: CompiledModule; limits: Limits; started: number; caps: OutputCaps } {
    const compiled = this.modules.get(req.module);
    if (compiled === undefined) {
      if (this.components.has(req.module)) throw new IsolaError('USAGE', 'a component has no buffer ABI: call its exports with an invoke');
      throw new IsolaError('NOT_FOUND', `module ${req.module} is not loaded in this cell`);
    }
    return { compiled, ...this.limitsFor(req, cancelId) };
  }

  /**
   * This invocation's limits and output caps. The worker's cancel flag stops it when it holds `cancelId` (its
   * request id: the host names the invocation to stop, since a parked one's successor may run by the time the
   * flag is read); without an id the flag is reset, so that an earlier cancel does not stop it.
   */
  private limitsFor(req: InvokeRequest, cancelId: number): { limits: Limits; started: number; caps: OutputCaps } {
    const caps = outputCaps(req);
    const limits: Limits = req.limits === undefined ? {} : { fuel: req.limits.fuel, timeoutMs: req.limits.timeoutMs };
    if (this.cancelFlag !== undefined) {
      if (cancelId === 0) Atomics.store(this.cancelFlag, 0, 0);
      else limits.cancelId = cancelId;
      limits.cancelFlag = this.cancelFlag;
    }
    return { limits, started: performance.now(), caps };
  }

  private callExport(compiled: CompiledModule, req: InvokeRequest, limits: Limits, started: number, output: () => GuestOutput): InvokeResult {
    if (req.export === undefined) throw new IsolaError('USAGE', "an 'invoke' invocation needs an export name");
    const { instance, wasi, streams } = this.instantiate(compiled, req, limits, output);
    try {
      const values = invokeAsText(instance, req.export, req.args ?? []);
      const res: InvokeResult = { values, fuelConsumed: instance.fuelConsumed, durationUs: micros(started) };
      streams?.done(res);
      return res;
    } catch (e) {
      throw withFuel(e, instance);
    } finally {
      wasi?.close();
      instance.release(); // the values are numbers or text; output sinks copy what they keep
    }
  }

  private runBuffer(req: InvokeRequest, cancelId: number): InvokeResult {
    const opened = this.openBuffer(req, cancelId);
    const input = req.input ?? EMPTY;
    try {
      checkInputFits(opened, input.length);
    } catch (e) {
      opened.abandon();
      throw e;
    }
    opened.target.set(input);
    return opened.finish(input.length);
  }

  private runCommand(compiled: CompiledModule, req: InvokeRequest, limits: Limits, started: number, output: GuestOutput): InvokeResult {
    if (output.tick !== undefined) limits.tick = output.tick;
    let instance: Instance | undefined;
    let exitCode: number;
    // runWasiCommand releases the instance; only its fuel is read afterwards.
    try {
      exitCode = runWasiCommand(compiled, this.wasiOptions(req, req.args ?? ['guest'], output), limits, (i) => {
        instance = i;
      }, this.coreKv(compiled, req));
    } catch (e) {
      throw withFuel(e, instance);
    }
    const res: InvokeResult = { exitCode, fuelConsumed: instance!.fuelConsumed, durationUs: micros(started) };
    output.done(res);
    return res;
  }

  /**
   * A plain instance, or a started WASI reactor when the module imports WASI: its stdout and stderr go to
   * the `output` made here (none: discarded).
   */
  private instantiate(compiled: CompiledModule, req: InvokeRequest, limits: Limits, output: (() => GuestOutput) | null):
    { instance: Instance; wasi?: WasiP1; streams?: GuestOutput } {
    if (!importsWasi(compiled.info)) return { instance: compiled.instantiate({}, limits) };
    const streams = output?.();
    if (streams?.tick !== undefined) limits.tick = streams.tick;
    let instance: Instance | undefined;
    try {
      const { wasi } = startWasiReactor(compiled, this.wasiOptions(req, [req.export ?? 'guest'], streams ?? null), limits, (i) => {
        instance = i;
      }, this.coreKv(compiled, req));
      return { instance: instance!, wasi, streams };
    } catch (e) {
      throw withFuel(e, instance);
    }
  }

  /** isola:keyvalue for a core module that imports it; its calls cross the capability channel (none inline: unavailable). */
  private coreKv(compiled: CompiledModule, req: InvokeRequest): ExtraImports | undefined {
    if (!compiled.info.imports.some((i) => i.module === CORE_KV_MODULE)) return undefined;
    return coreKeyValueImports(this.kvClient(req)) as ExtraImports;
  }

  /** wasi:keyvalue and Spin's key-value for a component (their calls cross the capability channel). */
  private componentKv(req: InvokeRequest): Record<string, Record<string, unknown>> {
    return componentKeyValueImports(this.kvClient(req));
  }

  private kvClient(req: InvokeRequest): KvClient {
    return new KvClient(this.channel ?? null, req.kvStores === undefined ? undefined : new Set(req.kvStores));
  }

  private wasiOptions(req: InvokeRequest, args: string[], output: GuestOutput | null): WasiOptions {
    const opts: WasiOptions & { unsafeNoPathChecks?: boolean } = {
      args, env: req.env ?? {}, preopens: this.grantedPreopens(req.preopens ?? []),
      stdin: req.kind === 'wasi' ? req.input ?? null : null, stdout: output?.stdout ?? null, stderr: output?.stderr ?? null,
    };
    if (req.environ !== undefined) opts.environ = req.environ;
    if (this.config.noPathChecks === true) opts.unsafeNoPathChecks = true;
    return opts;
  }

  /** Each requested preopen must be one of the cell's (same guest path, not less read-only); the cell's own host path is used. */
  private grantedPreopens(requested: Preopen[]): Preopen[] {
    return requested.map((p) => {
      const own = this.config.preopens.find((c) => c.guestPath === p.guestPath);
      if (own === undefined) throw new IsolaError('USAGE', `preopen ${p.guestPath} is not granted to this cell`);
      if (own.readOnly === true && p.readOnly !== true) throw new IsolaError('USAGE', `preopen ${p.guestPath} is read-only in this cell`);
      const exact = own.exact === true ? { exact: true } : {}; // the cell's grant says how its directory is opened
      return p.readOnly === true || own.readOnly === true
        ? { hostPath: own.hostPath, guestPath: p.guestPath, readOnly: true, ...exact }
        : { hostPath: own.hostPath, guestPath: p.guestPath, ...exact };
    });
  }
}

function micros(started: number): number {
  return Math.round((performance.now() - started) * 1000);
}

/** A guest's failure, with the fuel it spent until then (a trap, running out, a timeout, a cancel). */
function withFuel(e: unknown, instance: { readonly fuelConsumed: bigint } | undefined): unknown {
  if (e instanceof IsolaError && instance !== undefined) e.detail.fuelConsumed = instance.fuelConsumed;
  return e;
}

const PARKABLE = new WeakMap<CompiledModule, boolean>();

/** See AgentCore.parks (worked out once per module). */
function mayPark(compiled: CompiledModule): boolean {
  let yes = PARKABLE.get(compiled);
  if (yes === undefined) {
    const { imports, memories } = compiled.info;
    yes = memories.length <= 1 && imports.some((i) => i.module === 'wasi_snapshot_preview1' && i.name === 'poll_oneoff' && i.kind === 'func');
    PARKABLE.set(compiled, yes);
  }
  return yes;
}

function mapHolds<V>(map: ReadonlyMap<unknown, V>, value: V): boolean {
  for (const v of map.values()) if (v === value) return true;
  return false;
}

/** A loaded module's handle: its bytes and how they are (or are to be) compiled. */
function handleOf(bytes: Uint8Array, options: object): ModuleHandle {
  return createHash('sha256').update(bytes).update(JSON.stringify(options)).digest('hex').slice(0, 32);
}
