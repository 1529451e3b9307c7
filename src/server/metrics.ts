/** Prometheus metrics on a registry of our own (never prom-client's global one, so servers in one process don't mix). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InvocationRecord, OrchestratorApi } from '../orchestrator/types.js';
import type { KvOpRecord } from '../capabilities/keyvalue/host/stores.js';

/**
 * The `function` label of requests that reached no function. A fixed value keeps their series few and easy
 * to select (an empty label value is, to Prometheus, the same as no label); no function name has parentheses.
 */
export const NO_FUNCTION = '(none)';

/** Distinct outbound host labels kept per function (the rest count as "other"): bounded memory whatever guests ask for. */
const MAX_HOST_LABELS = 64;

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
    new Gauge({
      name: 'isola_cells',
      help: 'Cells of each function by state (from pool stats)',
      labelNames: ['function', 'state'],
      registers,
      collect() {
        this.reset();
        for (const f of orchestrator()?.list() ?? []) {
          if (!f.pool) continue;
          this.set({ function: f.name, state: 'alive' }, f.pool.cells);
          this.set({ function: f.name, state: 'idle' }, f.pool.idle);
          this.set({ function: f.name, state: 'busy' }, f.pool.busy);
          this.set({ function: f.name, state: 'queued' }, f.pool.queued);
        }
      },
    });
    new Gauge({
      name: 'isola_pool_events',
      help: 'Events of each function\'s live pool since it started (a new version starts a new count): cells spawned, crashed, recycled; invocations taken back from a cell where they waited behind a slow one',
      labelNames: ['function', 'event'],
      registers,
      collect() {
        this.reset();
        for (const f of orchestrator()?.list() ?? []) {
          if (!f.pool) continue;
          this.set({ function: f.name, event: 'spawned' }, f.pool.spawned);
          this.set({ function: f.name, event: 'crashed' }, f.pool.crashed);
          this.set({ function: f.name, event: 'recycled' }, f.pool.recycled);
          this.set({ function: f.name, event: 'taken_back' }, f.pool.takenBack);
          this.set({ function: f.name, event: 'cold_start' }, f.pool.coldStarts ?? 0);
        }
      },
    });
    new Gauge({
      name: 'isola_tenant_cells',
      help: 'Cells of each tenant (its functions share them) by state; 0 once it scaled to zero',
      labelNames: ['tenant', 'state'],
      registers,
      collect() {
        this.reset();
        for (const t of orchestrator()?.tenants?.() ?? []) {
          this.set({ tenant: t.tenant, state: 'alive' }, t.cells);
          this.set({ tenant: t.tenant, state: 'idle' }, t.idle);
          this.set({ tenant: t.tenant, state: 'busy' }, t.busy);
        }
      },
    });
    new Gauge({
      name: 'isola_tenant_modules',
      help: 'Functions of each tenant, and modules loaded in its cells (summed over cells)',
      labelNames: ['tenant', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const t of orchestrator()?.tenants?.() ?? []) {
          this.set({ tenant: t.tenant, kind: 'functions' }, t.functions);
          this.set({ tenant: t.tenant, kind: 'loaded' }, t.modulesLoaded);
        }
      },
    });
    new Gauge({
      name: 'isola_tenant_events',
      help: 'Events of each tenant\'s cells since its pools started: cold starts (a request that loaded its module), cells taken from the spares or spawned, modules evicted, cells scaled down after the idle timeout, crashes',
      labelNames: ['tenant', 'event'],
      registers,
      collect() {
        this.reset();
        for (const t of orchestrator()?.tenants?.() ?? []) {
          this.set({ tenant: t.tenant, event: 'cold_start' }, t.coldStarts);
          this.set({ tenant: t.tenant, event: 'from_spare' }, t.fromSpares);
          this.set({ tenant: t.tenant, event: 'spawned' }, t.spawned);
          this.set({ tenant: t.tenant, event: 'evicted' }, t.evicted);
          this.set({ tenant: t.tenant, event: 'scaled_down' }, t.scaledDown);
          this.set({ tenant: t.tenant, event: 'crashed' }, t.crashed);
        }
      },
    });
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
