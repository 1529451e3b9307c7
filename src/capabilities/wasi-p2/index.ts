export { WasiP2 } from './wasi.js';
export { runComponentCommand, isCommandComponent } from './run.js';
