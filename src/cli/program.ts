/**
 * The command line's shape: isola's three commands and their options. Actions are imported on
 * demand to keep start-up lean.
 */
import type { CommandSpec, Occurrence, OptionValues } from './argv.js';

export const DESCRIPTION = 'Run untrusted WebAssembly safely and fast';

const RUN: CommandSpec = {
  name: 'run',
  summary: 'run a WASI command, call one export (--invoke), or filter stdin through a buffer export (--buffer)',
  passThrough: true,
  args: [
    { name: 'file', required: true, description: 'a .wasm module or an isola artifact' },
    { name: 'args', required: false, variadic: true, description: 'arguments for the guest, or for the export with --invoke' },
  ],
  options: [
    { long: '--invoke', key: 'invoke', value: '<name>', description: 'call this export with ARGS (typed) and print its results, one per line' },
    { long: '--buffer', key: 'buffer', value: '<export>', description: 'buffer ABI: copy stdin to get_buffer_ptr(), call EXPORT(len), write the result to stdout' },
    { long: '--fuel', key: 'fuel', value: '<n>', description: 'instruction budget (deterministic)' },
    { long: '--max-memory', key: 'maxMemory', value: '<size>', description: 'memory cap: bytes, or with K/KiB, M/MiB, G/GiB' },
    { long: '--timeout', key: 'timeout', value: '<duration>', description: 'wall-clock limit that interrupts running code: 500ms, 2s, 1m' },
    { long: '-W', key: 'W', value: '<options>', repeatable: true, description: 'wasmtime spellings: fuel=N,max-memory-size=BYTES,timeout=DUR' },
    { long: '--backtrace', key: 'backtrace', description: 'print the Wasm backtrace of a trap (also ISOLA_BACKTRACE=1)' },
    { long: '--dir', key: 'dir', value: '<host[::guest]>', repeatable: true, description: 'grant read-write access to a host directory (as GUEST in the guest)' },
    { long: '--dir-ro', key: 'dirRo', value: '<host[::guest]>', repeatable: true, description: 'grant read-only access to a host directory' },
    { long: '--env', key: 'env', value: '<name[=value]>', repeatable: true, description: "give the guest an environment variable (NAME alone copies isola's own)" },
  ],
};

const INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'describe a module: imports, exports with signatures, memories, tables, custom sections, kind',
  args: [{ name: 'file', required: true, description: 'a .wasm module, component or isola artifact' }],
  options: [{ long: '--json', key: 'json', description: 'machine-readable output' }],
};

const COMPILE: CommandSpec = {
  name: 'compile',
  summary: 'validate and instrument a module once; write an artifact that `isola run` loads as is',
  args: [{ name: 'file', required: true, description: 'a .wasm module' }],
  options: [
    { long: '--output', short: '-o', key: 'output', value: '<file>', required: true, description: 'where to write the artifact' },
    { long: '--fuel', key: 'fuel', description: 'insert fuel metering (needed for --fuel and --timeout at run time)' },
    { long: '--max-memory', key: 'maxMemory', value: '<size>', description: 'cap memory at SIZE bytes (K/KiB, M/MiB, G/GiB)' },
  ],
};

export const COMMANDS: CommandSpec[] = [RUN, INSPECT, COMPILE];

/** Runs a parsed command; resolves to the exit status. */
export async function dispatch(command: CommandSpec, positionals: string[], options: OptionValues, sequence: Occurrence[]): Promise<number> {
  const [file, ...args] = positionals as [string, ...string[]];
  switch (command.name) {
    case 'run': {
      const { run } = await import('./run.js');
      // --dir and --dir-ro together, in the order given.
      const preopens = sequence.filter((o) => o.key === 'dir' || o.key === 'dirRo').map((o) => ({ spec: o.value as string, readOnly: o.key === 'dirRo' }));
      return run(file, args, { ...options, preopens });
    }
    case 'inspect': {
      const { inspectCommand } = await import('./inspect.js');
      return inspectCommand(file, options);
    }
    default: {
      const { compileCommand } = await import('./compile.js');
      return compileCommand(file, options as { output: string });
    }
  }
}
