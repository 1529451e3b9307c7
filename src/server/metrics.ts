/** Prometheus metrics on a registry of our own (never prom-client's global one, so servers in one process don't mix). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FunctionSummary, InvocationRecord, OrchestratorApi } from '../orchestrator/types.js';
import type { KvOpRecord } from '../capabilities/keyvalue/host/stores.js';

/**
 * The `function` label of requests that reached no function. A fixed value keeps their series few and easy
 * to select (an empty label value is, to Prometheus, the same as no label); no function name has parentheses.
 */
export const NO_FUNCTION = '(none)';

/** Distinct outbound host labels kept per function (the rest count as "other"): bounded memory whatever guests ask for. */
const MAX_HOST_LABELS = 64;

/**
 * `get`'s value, computed once for everything that asks in this turn of the event loop (one scrape: prom-client
 * collects every gauge between promise callbacks, before any timer or I/O callback runs again).
 */
function oncePerTurn<T>(get: () => T): () => T {
  let cached: { value: T } | null = null;
  return () => {
    if (cached === null) {
      cached = { value: get() };
      setImmediate(() => {
        cached = null;
      });
    }
    return cached.value;
  };
}

/** A gauge with one series per row (labelled `rowLabel`) and column (labelled `columnLabel`): a table's values. */
function tableGauge<R>(registers: Registry[], name: string, help: string, [rowLabel, columnLabel]: [string, string],
  rows: () => Iterable<R>, rowName: (r: R) => string, columns: Array<[string, (r: R) => number]>): void {
  new Gauge({
    name, help, labelNames: [rowLabel, columnLabel], registers,
    collect() {
      this.reset();
      for (const r of rows()) for (const [column, value] of columns) this.set({ [rowLabel]: rowName(r), [columnLabel]: column }, value(r));
    },
  });
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'function' | 'version' | 'status'>;
  private readonly latency: Histogram<'function'>;
  private readonly invocations: Counter<'function' | 'version' | 'outcome'>;
  private readonly outbound: Counter<'function' | 'host' | 'outcome'>;
  private readonly outboundBytes: Counter<'function' | 'host' | 'direction'>;
  /** Host labels seen per function: a guest chooses them (even refused ones), so past MAX_HOST_LABELS they count as "other". */
  private readonly hostLabels = new Map<string, Set<string>>();
  private readonly fuel: Counter<'function' | 'version'>;
  private readonly admin: Counter<'operation' | 'result'>;
  private readonly kvOps: Counter<'store' | 'op' | 'outcome'>;
  private readonly kvLatency: Histogram<'store' | 'op'>;
  private readonly kvBytes: Counter<'store' | 'direction'>;

  constructor(orchestrator: () => OrchestratorApi | undefined, openConnections: () => number) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'isola_http_requests_total', help: 'HTTP requests answered', labelNames: ['function', 'version', 'status'], registers });
    this.latency = new Histogram({
      name: 'isola_http_request_duration_seconds',
      help: 'Time from request to response end',
      labelNames: ['function'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.invocations = new Counter({ name: 'isola_invocations_total', help: 'Invocations by outcome (ok, trap, fuel, timeout, memory, crash, overloaded, ...)', labelNames: ['function', 'version', 'outcome'], registers });
    this.fuel = new Counter({ name: 'isola_fuel_consumed_total', help: 'Fuel units consumed by guests', labelNames: ['function', 'version'], registers });
    this.outbound = new Counter({ name: 'isola_outbound_requests_total', help: 'Outbound HTTP requests made for wasi:http guests, by host:port and outcome (2xx..5xx, or the error-code: HTTP-request-denied, connection-refused, ...)', labelNames: ['function', 'host', 'outcome'], registers });
    this.outboundBytes = new Counter({ name: 'isola_outbound_bytes_total', help: 'Bytes of outbound HTTP bodies, sent (out) and received (in)', labelNames: ['function', 'host', 'direction'], registers });
    this.kvOps = new Counter({ name: 'isola_kv_operations_total', help: 'Key-value store calls of guests, by store, operation and outcome (ok, not granted: access-denied, too-large, unavailable, ...)', labelNames: ['store', 'op', 'outcome'], registers });
    this.kvLatency = new Histogram({
      name: 'isola_kv_operation_duration_seconds',
      help: 'Time a key-value store call took on the host (the backend and the checks)',
      labelNames: ['store', 'op'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5],
      registers,
    });
    this.kvBytes = new Counter({ name: 'isola_kv_bytes_total', help: 'Value bytes written to (in) and read from (out) key-value stores', labelNames: ['store', 'direction'], registers });
    this.admin = new Counter({ name: 'isola_admin_operations_total', help: 'Admin API operations', labelNames: ['operation', 'result'], registers });
    new Gauge({
      name: 'isola_http_connections',
      help: 'HTTP connections open now (all listeners)',
      registers,
      collect() {
        this.set(openConnections());
      },
    });
    // One listing of functions and one of tenants per scrape, however many gauges read them (each walks every
    // function: thousands on a dense server).
    const functions = oncePerTurn(() => (orchestrator()?.list() ?? []).filter((f) => f.pool !== undefined));
    const tenants = oncePerTurn(() => orchestrator()?.tenants?.() ?? []);
    const pool = (f: FunctionSummary): NonNullable<FunctionSummary['pool']> => f.pool!;
    tableGauge(registers, 'isola_cells', 'Cells of each function by state (from pool stats)', ['function', 'state'], functions, (f) => f.name, [
      ['alive', (f) => pool(f).cells], ['idle', (f) => pool(f).idle], ['busy', (f) => pool(f).busy], ['queued', (f) => pool(f).queued],
    ]);
    tableGauge(registers, 'isola_pool_events', 'Events of each function\'s live pool since it started (a new version starts a new count): cells spawned, crashed, recycled; invocations taken back from a cell where they waited behind a slow one; cold starts (a request that loaded its module)',
      ['function', 'event'], functions, (f) => f.name, [
        ['spawned', (f) => pool(f).spawned], ['crashed', (f) => pool(f).crashed], ['recycled', (f) => pool(f).recycled],
        ['taken_back', (f) => pool(f).takenBack], ['cold_start', (f) => pool(f).coldStarts ?? 0],
      ]);
    tableGauge(registers, 'isola_tenant_cells', 'Cells of each tenant (its functions share them) by state; 0 once it scaled to zero', ['tenant', 'state'], tenants, (t) => t.tenant, [
      ['alive', (t) => t.cells], ['idle', (t) => t.idle], ['busy', (t) => t.busy],
    ]);
    tableGauge(registers, 'isola_tenant_modules', 'Functions of each tenant, and modules loaded in its cells (summed over cells)', ['tenant', 'kind'], tenants, (t) => t.tenant, [
      ['functions', (t) => t.functions], ['loaded', (t) => t.modulesLoaded],
    ]);
    tableGauge(registers, 'isola_tenant_events', 'Events of each tenant\'s cells since its pools started: cold starts (a request that loaded its module), cells taken from the spares or spawned, modules evicted, cells scaled down after the idle timeout, crashes',
      ['tenant', 'event'], tenants, (t) => t.tenant, [
        ['cold_start', (t) => t.coldStarts], ['from_spare', (t) => t.fromSpares], ['spawned', (t) => t.spawned],
        ['evicted', (t) => t.evicted], ['scaled_down', (t) => t.scaledDown], ['crashed', (t) => t.crashed],
      ]);
    new Gauge({
      name: 'isola_spare_cells',
      help: 'Warm spare cells: ready now, wanted (isola serve --spare-cells), taken by tenants since start, missed (wanted, none ready)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const s = orchestrator()?.spares?.();
        if (!s) return;
        for (const k of ['ready', 'wanted', 'taken', 'missed'] as const) this.set({ state: k }, s[k]);
      },
    });
  }

  /** `fn` is '' for requests that matched no function (404s, admin, metrics, health): they count under NO_FUNCTION. */
  /**
   * A cluster node: every series carries `node` (so one Prometheus can scrape them all), and the nodes this one
   * sees, by state, and the requests it forwarded or served for others join the metrics.
   */
  clusterNode(node: string, nodes: () => Array<{ state: string }>, forwarded: () => { sent: Record<string, number>; served: Record<string, number> }): void {
    this.registry.setDefaultLabels({ node });
    const registers = [this.registry];
    const states = ['up', 'gone', 'left'];
    new Gauge({
      name: 'isola_cluster_nodes', help: 'Nodes this node sees, by state (up: a heartbeat in the last 3 s)', labelNames: ['state'], registers,
      collect() {
        const all = nodes();
        for (const state of states) this.set({ state }, all.filter((n) => n.state === state).length);
      },
    });
    const stats = oncePerTurn(forwarded);
    tableGauge(registers, 'isola_cluster_forwarded', 'Requests this node forwarded to others (sent: forwarded, busy: no node had room, failed) and took from others (served, refusedBusy, failed), since start',
      ['direction', 'outcome'], () => [['sent', stats().sent], ['served', stats().served]] as Array<[string, Record<string, number>]>, ([d]) => d,
      ['forwarded', 'busy', 'failed', 'served', 'refusedBusy'].map((k) => [k, ([, r]: [string, Record<string, number>]) => r[k] ?? 0] as [string, (r: [string, Record<string, number>]) => number]));
  }

  request(fn: string, version: string, status: number, seconds: number): void {
    const labels = { function: fn || NO_FUNCTION };
    this.requests.inc({ ...labels, version, status: String(status) });
    this.latency.observe(labels, seconds);
  }

  invocation(rec: InvocationRecord): void {
    this.invocations.inc({ function: rec.function, version: rec.version, outcome: rec.outcome });
    for (const o of rec.outbound ?? []) {
      const labels = { function: rec.function, host: this.hostLabel(rec.function, o.url.replace(/^[a-z]+:\/\//, '').slice(0, 100)) };
      this.outbound.inc({ ...labels, outcome: o.error ?? (o.status === undefined ? 'none' : `${Math.floor(o.status / 100)}xx`) });
      if (o.bytesOut > 0) this.outboundBytes.inc({ ...labels, direction: 'out' }, o.bytesOut);
      if (o.bytesIn > 0) this.outboundBytes.inc({ ...labels, direction: 'in' }, o.bytesIn);
    }
    const fuel = Number(rec.fuel);
    if (fuel > 0) this.fuel.inc({ function: rec.function, version: rec.version }, fuel);
  }

  private hostLabel(fn: string, host: string): string {
    let seen = this.hostLabels.get(fn);
    if (seen === undefined) this.hostLabels.set(fn, (seen = new Set()));
    if (seen.has(host)) return host;
    if (seen.size >= MAX_HOST_LABELS) return 'other';
    seen.add(host);
    return host;
  }

  /** One store call (the store is "(not granted)" for calls refused before a grant was found: a guest chooses those names). */
  kvOperation(r: KvOpRecord): void {
    this.kvOps.inc({ store: r.store, op: r.op, outcome: r.outcome });
    this.kvLatency.observe({ store: r.store, op: r.op }, r.seconds);
    if (r.bytesIn > 0) this.kvBytes.inc({ store: r.store, direction: 'in' }, r.bytesIn);
    if (r.bytesOut > 0) this.kvBytes.inc({ store: r.store, direction: 'out' }, r.bytesOut);
  }

  adminOperation(operation: string, ok: boolean): void {
    this.admin.inc({ operation, result: ok ? 'ok' : 'error' });
  }
}
