// Component fixtures (test/fixtures/components, rebuilt by scripts/build-components.mjs), compiled once per
// test process, and a command runner through the library with capped in-memory output.
import { readFileSync } from 'node:fs';
import { Engine, OutputCapture } from '../../src/index.js';
import type { CompiledComponent } from '../../src/engine/component/compiled-component.js';
import type { CompileOptions, Limits } from '../../src/engine/limits.js';
import { runComponentCommand } from '../../src/capabilities/wasi-p2/index.js';
import { fromRoot } from '../helpers/root.js';
import { wasiOptionsFor, type GuestRun, type RunResult } from '../wasi/helpers.js';

export const componentFixture = (name: string): string => fromRoot('test/fixtures/components', `${name}.wasm`);
export const componentBytes = (name: string): Uint8Array => readFileSync(componentFixture(name));

const engine = new Engine({ cacheDir: null });
const compiled = new Map<string, Promise<CompiledComponent>>();

export function compileComponentFixture(name: string, options: CompileOptions = {}): Promise<CompiledComponent> {
  const key = `${name} ${JSON.stringify(options)}`;
  let c = compiled.get(key);
  if (!c) compiled.set(key, (c = engine.compileComponent(componentBytes(name), options)));
  return c;
}

/** A preview 1 C guest made a command component (`cmd-<guest>`), run through runComponentCommand. */
export async function runCommandComponent(run: GuestRun, limits: Limits = {}): Promise<RunResult> {
  const stdout = new OutputCapture(4 << 20);
  const stderr = new OutputCapture(4 << 20);
  const c = await compileComponentFixture(`cmd-${run.guest}`, { fuel: limits.fuel !== undefined || limits.timeoutMs !== undefined });
  const code = runComponentCommand(c, wasiOptionsFor(run, stdout, stderr), limits);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
