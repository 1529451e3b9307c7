/** Functions, versions, hot swap, admission and the CGI executor (see docs/contracts.md § src/orchestrator/). */
export type * from './types.js';
export { Orchestrator, openOrchestrator, type PoolFactory, type OrchestratorInternals } from './orchestrator.js';
export {
  loadManifest, parseManifest, parseFunctionEntry, checkFunctionName, checkDistinctRoutes, DEFAULT_LIMITS, FUNCTION_NAME,
  type EntryOptions,
} from './manifest.js';
export { checkRoute, RESERVED_PREFIXES } from './routes.js';
export { checkServerLimits, tenantOf, DENSITY_DEFAULTS } from './server-limits.js';
export { httpStatusFor, errorTextFor, errorResponse, outcomeFor } from './http-status.js';
export { grantPolicy, checkGrants, type GrantPolicy, type GrantPolicyOptions } from './grant-policy.js';
export { FunctionLogs, DEFAULT_LOG_LIMITS, type LogLimits } from './function-logs.js';
export { CgiExecutor } from './executors/cgi.js';
export { cgiEnvironment } from './executors/cgi-env.js';
export { parseCgiOutput } from './executors/cgi-response.js';
