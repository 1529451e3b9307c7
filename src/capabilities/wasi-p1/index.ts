/** isola's wasi_snapshot_preview1 capability (see docs/contracts.md). */
export { WasiP1, OutputCapture, OutputForward, WasiExit, type WasiOptions, type Preopen, type EnvironBlock, type OutputSink } from './wasi.js';
export { checkedEnviron, environStrings, joinEnviron } from './environ.js';
export { runWasiCommand, runWasiCommandParking, startWasiReactor, instantiateWasi } from './run.js';
export type { ParkHooks } from './park.js';
