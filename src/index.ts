// isola's library entry: everything the CLI does is available here.
export { IsolaError, isIsolaError, type IsolaErrorCode } from './errors.js';

// src/wasm: read and rewrite binaries
export {
  inspect, instrument, mapLocation, formatSig,
  type ModuleInfo, type FuncSig, type ValType, type InstrumentOptions, type Instrumented,
} from './wasm/index.js';

// src/engine: compile cache, limits, instances, traps, the buffer ABI
export {
  Engine, processBuffer, isArtifact, defaultCacheDir, formatBacktrace, formatValue,
  parseIntegerLiteral, parseFloatLiteral, parseSize, parseDuration, parseFuel, formatDuration, isolaVersion,
  type EngineOptions, type EngineStats, type CompiledModule, type Instance, type WasmFunction,
  type Limits, type CompileOptions, type WasmFrame,
} from './engine/index.js';

// src/capabilities/wasi-p1: WASI preview 1 with capability security
export {
  WasiP1, OutputCapture, OutputForward, WasiExit, runWasiCommand, startWasiReactor, instantiateWasi,
  type WasiOptions, type Preopen, type OutputSink,
} from './capabilities/wasi-p1/index.js';

// src/capabilities/wasi-p2: WASI 0.2 for components, on the preview 1 layer
export { WasiP2, runComponentCommand, isCommandComponent } from './capabilities/wasi-p2/index.js';
// src/capabilities/wasi-http: serving a request with a wasi:http/incoming-handler component
export { serveHttpRequest, incomingHandlerExport, type IncomingHttpRequest, type ResponseSink, type HeadOrError } from './capabilities/wasi-http/index.js';
export type { CompiledComponent, ComponentInstance, ComponentImports } from './engine/component/compiled-component.js';

// src/cells: the second wall (inline, worker and jailed process cells) and pools of them
export {
  spawnCell, CellPool,
  type SpawnedCell, type Isolation, type CellSpawnOptions, type LoadRequest, type ModuleHandle, type InvocationKind,
  type InvokeRequest, type InvokeResult, type OutputCallback, type Cell, type PoolOptions, type PoolStats, type CellPoolApi,
} from './cells/index.js';

// src/orchestrator: functions, versions, hot swap, admission, the CGI executor; isola.toml
export {
  Orchestrator, openOrchestrator, loadManifest, parseManifest, parseFunctionEntry, checkFunctionName, checkRoute,
  httpStatusFor, errorResponse, CgiExecutor, parseCgiOutput, cgiEnvironment, DEFAULT_LIMITS,
  grantPolicy, checkGrants, FunctionLogs,
  type GrantPolicy, type LogRecord, type LogQuery, type FunctionLogsApi,
  type FunctionSpec, type FunctionLimits, type FunctionSummary, type VersionInfo, type InvocationRecord,
  type HttpRequestDescriptor, type HttpResponseDescriptor, type Executor, type ExecutionContext,
  type OrchestratorApi, type OrchestratorOptions,
} from './orchestrator/index.js';

// src/server: the HTTP gateway, admin API, metrics and drain (`isola serve`)
export {
  startServer, drainOnSignal, parseListen, DEFAULT_LISTEN, LOG_LEVELS, TOKEN_FILE, SERVER_DEFAULTS,
  type ServerOptions, type RunningServer, type LogLevel,
} from './server/index.js';

// src/cluster: a server as a node of a cluster over NATS JetStream (`isola serve --cluster`)
export {
  joinCluster, clusterJoiner, clusterSettings, ClusterNode, loadClusterConfig, checkClusterConfig, clusterNames, CLUSTER_FORMAT,
  type ClusterConfig, type ClusterAdminApi, type ClusterMember, type JoinCluster, type FunctionRecord, type Heartbeat, type NodeStatus,
  type NodeLogRecord,
} from './cluster/index.js';
