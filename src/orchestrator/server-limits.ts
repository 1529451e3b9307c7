/**
 * Server-wide limits on what a deploy may add (`isola serve --max-functions N --max-tenants N`), and the defaults
 * of the density settings (idle timeout, warm spares). The orchestrator calls checkServerLimits in deploy(), under
 * the function's lock and before anything is validated or stored, so a refused deploy changes nothing.
 */
import { IsolaError } from '../errors.js';
import { tenantProblem } from './function-name.js';
import type { FunctionSpec, OrchestratorOptions } from './types.js';

/** What OrchestratorOptions' density settings are when absent (and `isola serve`'s defaults). */
export const DENSITY_DEFAULTS = {
  /** A function's cells close after 5 minutes without a request. */
  idleTimeoutMs: 5 * 60_000,
  /** Warm jailed cells not yet given to a tenant. */
  spareCells: 2,
  maxFunctions: 10_000,
  maxTenants: 10_000,
} as const;

/** The tenant a spec belongs to: its `tenant`, else its own name. */
export function tenantOf(spec: Pick<FunctionSpec, 'name' | 'tenant'>): string {
  return spec.tenant ?? spec.name;
}

/** What the check reads of a known function: its live version, else its newest (the orchestrator's FunctionEntry). */
export interface KnownFunction {
  live: { info: { spec: FunctionSpec } } | null;
  /** Newest first. */
  versions: ReadonlyArray<{ spec: FunctionSpec }>;
}

/** The tenant a known function belongs to now: its live version's, else its newest version's (undefined: none). */
function currentTenant(fn: KnownFunction): string | undefined {
  const spec = (fn.live?.info ?? fn.versions[0])?.spec;
  return spec && tenantOf(spec);
}

/** Refuses (MANIFEST) density fields no manifest would give: for specs built by code rather than parsed. */
function checkDensityFields(spec: FunctionSpec): void {
  if (spec.tenant !== undefined) {
    const problem = typeof spec.tenant === 'string' ? tenantProblem(spec.tenant) : 'expected a tenant label';
    if (problem !== null) throw new IsolaError('MANIFEST', `deploy: function.${spec.name}.tenant: ${problem}`);
  }
  const idle = spec.idleTimeoutMs;
  if (idle !== undefined && !(typeof idle === 'number' && Number.isFinite(idle) && idle >= 0 && idle <= 2 ** 31)) {
    throw new IsolaError('MANIFEST', `deploy: function.${spec.name}.idle-timeout: expected a duration of at most ~24 days, or 0 for never`);
  }
}

/**
 * Throws IsolaError('CONFLICT') (HTTP 409) when deploying `spec` would exceed the server's limits: a new function
 * beyond `maxFunctions`, or a tenant no other function has beyond `maxTenants`. Redeploying a function never counts
 * as a new function, nor as a new tenant while it stays in its tenant; moving it to a tenant no other function has
 * counts that tenant (its old one leaves the count if nothing else is in it). `fns`: every function the server holds,
 * by name; `reserved`: new functions being deployed right now (see Orchestrator.deploy). Also refuses (MANIFEST) a malformed `tenant` or `idleTimeoutMs`.
 */
export function checkServerLimits(known: ReadonlyMap<string, KnownFunction>, spec: FunctionSpec,
  limits: Pick<OrchestratorOptions, 'maxFunctions' | 'maxTenants'> = {}, reserved: ReadonlyMap<string, KnownFunction> = new Map()): void {
  checkDensityFields(spec);
  const maxFunctions = limits.maxFunctions ?? DENSITY_DEFAULTS.maxFunctions;
  const maxTenants = limits.maxTenants ?? DENSITY_DEFAULTS.maxTenants;
  // `reserved`: new functions whose deploys are under way (never in `known`), counted as if they were there.
  const fns = { size: known.size + reserved.size, entries: () => [...known, ...reserved] };
  const existing = known.get(spec.name) ?? reserved.get(spec.name);
  if (existing === undefined && fns.size >= maxFunctions) {
    throw new IsolaError('CONFLICT', `deploy: the server's limit of ${maxFunctions} functions is reached (isola serve --max-functions)`);
  }
  const tenant = tenantOf(spec);
  if (existing !== undefined && currentTenant(existing) === tenant) return; // stays in its tenant
  const others = fns.size - (existing === undefined ? 0 : 1);
  if (others + 1 <= maxTenants) return; // even if every other function were a tenant of its own
  const tenants = new Set<string>();
  for (const [name, fn] of fns.entries()) {
    if (name === spec.name) continue;
    const t = currentTenant(fn);
    if (t === tenant) return; // joins a tenant that is already counted
    if (t !== undefined) tenants.add(t);
  }
  if (tenants.size + 1 > maxTenants) {
    throw new IsolaError('CONFLICT', `deploy: the server's limit of ${maxTenants} tenants is reached, and "${tenant}" would be one more (isola serve --max-tenants)`);
  }
}
