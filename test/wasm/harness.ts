// Runs a module plain or instrumented and records each call's outcome, for differential tests.
import { instrument } from '../../src/wasm/index.js';

export type Arg = number | bigint | null | object;
export interface Call {
  fn: string;
  args: Arg[];
}
export type Outcome = { ok: unknown } | { trap: string };

export const HUGE_FUEL = 1n << 60n;

function describeError(e: unknown): string {
  if (e instanceof WebAssembly.RuntimeError) return `RuntimeError: ${e.message}`;
  if (e instanceof WebAssembly.Exception) return 'wasm exception';
  if (e instanceof RangeError) return `RangeError: ${e.message}`;
  return `other: ${String(e)}`;
}

function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return v;
}

export interface Run {
  outcomes: Outcome[];
  fuelChecks: number;
  fuelUsed: bigint;
}

/**
 * Instantiates (instrumented with a refilling budget when `metered`) and runs `calls` in order.
 * `slice`: what fuel_check refills each time; a tiny slice sends nearly every check down its slow path.
 */
export function runCalls(bytes: Uint8Array, calls: Call[], metered: boolean, env: Record<string, unknown> = {}, slice = HUGE_FUEL): Run {
  let fuelChecks = 0;
  let used = 0n;
  let global: WebAssembly.Global | undefined;
  const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
  let code = bytes;
  if (metered) {
    code = instrument(bytes, { fuel: true }).bytes;
    imports.isola = {
      fuel_check() {
        fuelChecks++;
        if (global) {
          used += slice - (global.value as bigint);
          global.value = slice;
        }
      },
    };
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(code), imports);
  if (metered) {
    global = instance.exports.__isola_fuel as WebAssembly.Global;
    global.value = slice;
  }
  const outcomes: Outcome[] = calls.map(({ fn, args }) => {
    try {
      return { ok: normalise((instance.exports[fn] as (...a: Arg[]) => unknown)(...args)) };
    } catch (e) {
      return { trap: describeError(e) };
    }
  });
  if (global) used += slice - (global.value as bigint);
  return { outcomes, fuelChecks, fuelUsed: used };
}
