// Importing this module makes instrumentation available to the engine (see rewriter.ts).
import { instrument, mapLocation } from '../wasm/instrument.js';
import { FuelMeter } from './fuel-meter.js';
import { provideRewriter } from './rewriter.js';

provideRewriter({ instrument, mapLocation, FuelMeter });
