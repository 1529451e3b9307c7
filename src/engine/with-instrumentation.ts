// Importing this module makes instrumentation available to the engine (see instrumentation.ts).
import { instrument, mapLocation } from '../wasm/instrument.js';
import { FuelMeter } from './fuel-meter.js';
import { provideInstrumentation } from './instrumentation.js';

provideInstrumentation({ instrument, mapLocation, FuelMeter });
