// src/wasm: reading and rewriting WebAssembly binaries. It never runs anything.
export { formatSig, type ValType, type FuncSig } from './types.js';
export { inspect, type ModuleInfo } from './inspect.js';
export { instrument, mapLocation, type InstrumentOptions, type Instrumented } from './instrument.js';
export { decodeModule, readHeader, type WasmModule } from './sections.js';
export { readNames, type NameInfo } from './names.js';
