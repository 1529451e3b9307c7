/**
 * The CLI's one place for failures: a single `error: …` line on stderr (plus Wasm frames when a
 * backtrace was asked for), never a Node.js stack trace, and an exit status that says what kind.
 */
import { IsolaError } from '../errors.js';
import { formatBacktrace, type WasmFrame } from '../engine/traps.js';
import { usageHint, type UsageError } from './usage-error.js';

export const EXIT_FAILURE = 1; // limits, traps, bad modules, I/O
export const EXIT_USAGE = 2; // bad options or arguments: one error line and a usage hint
export const EXIT_INTERNAL = 70; // a bug in isola (EX_SOFTWARE)

/** Set by `run` when --backtrace or ISOLA_BACKTRACE asks for frames. */
export const reporting = { backtrace: false };

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');

export function reportError(e: unknown): number {
  if (isWasiExit(e)) return e.exitCode;
  if (e instanceof IsolaError) {
    const lines = [`error: ${oneLine(e.message)}`];
    const frames = e.detail.frames as WasmFrame[] | undefined;
    if (reporting.backtrace && frames?.length) {
      lines.push('wasm backtrace:');
      for (const line of formatBacktrace(frames)) lines.push(`  ${line}`);
    }
    process.stderr.write(`${lines.join('\n')}\n`);
    return e.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`error: internal error: ${oneLine(message)}\n`);
  return EXIT_INTERNAL;
}

export function reportUsageError(e: UsageError): number {
  process.stderr.write(`error: ${oneLine(e.message)}\n${usageHint(e.command)}\n`);
  return EXIT_USAGE;
}

/** WASI's proc_exit, recognised by shape so the CLI need not load the WASI layer to catch it. */
function isWasiExit(e: unknown): e is { exitCode: number } {
  return e instanceof Error && e.name === 'WasiExit' && typeof (e as { exitCode?: unknown }).exitCode === 'number';
}
