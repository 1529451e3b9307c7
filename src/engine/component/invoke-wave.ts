/**
 * `--invoke 'name(args)'` for components, as `wasmtime run --invoke` does it: the arguments in WAVE, typed by
 * the export's WIT signature, the result printed in WAVE. A bare name is a world-level function or, when
 * only one exported interface has it, that interface's; `interface#name` picks one (the interface as
 * exported, with or without its version, or its last segment).
 */
import { IsolaError } from '../../errors.js';
import type { ComponentSurface, WitFunc } from '../../wasm/component/types.js';
import { formatFunc, formatType } from '../../wasm/component/types.js';
import { camelCase, printWave, WaveParser, waveErrors } from './wave.js';

interface Target { display: string; func: WitFunc; call: (...args: unknown[]) => unknown }

const stripVersion = (name: string): string => name.replace(/@[^/]*$/, '');
const lastSegment = (name: string): string => stripVersion(name).replace(/^.*[/:]/, '');

/** Every callable export, qualified, with its signature: for error messages. */
export function describeExports(surface: ComponentSurface): string[] {
  const out = [...surface.functions].map(([n, f]) => formatFunc(n, f));
  for (const [iface, fns] of surface.interfaces) for (const [n, f] of fns) out.push(formatFunc(`${iface}#${n}`, f));
  return out;
}

function resolve(surface: ComponentSurface, exports: Readonly<Record<string, unknown>>, name: string): Target {
  const hash = name.lastIndexOf('#');
  const fnName = hash < 0 ? name : name.slice(hash + 1);
  const candidates: Array<[string | null, WitFunc]> = [];
  if (hash < 0 && surface.functions.has(fnName)) candidates.push([null, surface.functions.get(fnName)!]);
  else {
    const want = hash < 0 ? null : name.slice(0, hash);
    for (const [iface, fns] of surface.interfaces) {
      if (want !== null && want !== iface && want !== stripVersion(iface) && want !== lastSegment(iface)) continue;
      const f = fns.get(fnName);
      if (f !== undefined) candidates.push([iface, f]);
    }
  }
  const known = describeExports(surface);
  if (candidates.length === 0) {
    throw new IsolaError('NO_EXPORT', `the component exports no function ${name}; it exports ${known.length ? known.join(', ') : 'no functions'}`, { name });
  }
  if (candidates.length > 1) {
    throw new IsolaError('NO_EXPORT', `${name} is ambiguous: name one of ${candidates.map(([i]) => `${i}#${fnName}`).join(', ')}`, { name });
  }
  const [iface, func] = candidates[0]!;
  const holder = iface === null ? exports : (exports[iface] as Record<string, unknown> | undefined);
  const call = holder?.[camelCase(fnName)];
  if (typeof call !== 'function') throw new IsolaError('NO_EXPORT', `the component's glue has no function for ${name}`, { name });
  return { display: iface === null ? fnName : `${iface}#${fnName}`, func, call: call as Target['call'] };
}

/** Calls `call` (like `add(1, 2)`) on an instance's exports; the WAVE text of its result, or null when it has none. */
export function invokeWave(surface: ComponentSurface, exports: Readonly<Record<string, unknown>>, call: string): string | null {
  const open = call.indexOf('(');
  if (open < 0 || !call.trimEnd().endsWith(')')) {
    throw new IsolaError('BAD_ARGS', `--invoke takes a call like 'add(1, 2)' (parentheses even without arguments), got ${JSON.stringify(call)}`);
  }
  const target = resolve(surface, exports, call.slice(0, open).trim());
  const { params, result } = target.func;
  const p = new WaveParser(call);
  p.pos = open + 1;
  const args: unknown[] = [];
  waveErrors(p, target.display, () => {
    p.seq(')', (i) => {
      if (i >= params.length) p.fail(`too many arguments: ${formatFunc(target.display, target.func)}`);
      const [pname, ptype] = params[i]!;
      args.push(waveErrors(p, `argument ${i + 1} (${pname}: ${formatType(ptype)}) of ${target.display}`, () => p.value(ptype)));
    });
    if (p.peek() !== '') p.fail(`unexpected ${p.found()} after the call`);
  });
  // Trailing option arguments may be left out (WAVE); any other missing one is an error.
  for (let i = args.length; i < params.length; i++) {
    if (params[i]![1].kind !== 'option') {
      throw new IsolaError('BAD_ARGS', `missing argument ${i + 1} (${params[i]![0]}: ${formatType(params[i]![1])}): ${formatFunc(target.display, target.func)}`);
    }
    args.push(undefined);
  }
  let value: unknown;
  try {
    value = target.call(...args);
    if (result?.kind === 'result') value = { tag: 'ok', val: value };
  } catch (e) {
    // jco throws a function's own `result` error as a ComponentError carrying the err payload.
    if (result?.kind !== 'result' || !(e instanceof Error && e.constructor.name === 'ComponentError')) throw e;
    value = { tag: 'err', val: (e as Error & { payload?: unknown }).payload };
  }
  return result === null ? null : printWave(result, value);
}
