import './with-instrumentation.js';

export { Engine, type EngineOptions, type EngineStats } from './engine.js';
export type { CompiledModule } from './compiled-module.js';
export type { Instance, WasmFunction } from './instance.js';
export type { Limits, CompileOptions } from './limits.js';
export { processBuffer } from './buffer-abi.js';
export { isArtifact } from './artifact.js';
export { defaultCacheDir } from './cache-dir.js';
export { formatBacktrace, type WasmFrame } from './traps.js';
export { formatValue, parseIntegerLiteral, parseFloatLiteral } from './values.js';
export { invokeAsText } from './invoke-text.js';
export { parseSize, parseDuration, parseFuel, formatDuration } from './units.js';
export { isolaVersion } from './version.js';
