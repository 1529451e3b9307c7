/**
 * The command line's shape (commander). Options go before FILE; everything after FILE belongs to
 * the guest, as with wasmtime. Actions are imported on demand to keep start-up lean.
 */
import type { Command as CommandType } from 'commander';
import { createRequire } from 'node:module';
import { IsolaError } from '../errors.js';

// commander is CommonJS: require() loads it without the ESM loader's CJS export scan (start-up time).
export const commander = createRequire(import.meta.url)('commander') as typeof import('commander');
const { Command } = commander;
type Command = CommandType;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A usage error from an action gets the same treatment as commander's own: the line, then the usage hint. */
function action<A extends unknown[]>(cmd: Command, body: (...args: A) => Promise<number>) {
  return async (...args: A): Promise<void> => {
    try {
      process.exitCode = await body(...args);
    } catch (e) {
      if (e instanceof IsolaError && e.code === 'USAGE') cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'isola.usage' });
      throw e;
    }
  };
}

function usageHint(cmd: Command): string {
  return `usage: isola ${cmd.name()} ${cmd.usage()} (see 'isola ${cmd.name()} --help')`;
}

export function buildProgram(version: () => string): Command {
  const program = new Command('isola')
    .description('Run untrusted WebAssembly safely and fast')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .showHelpAfterError("(see 'isola --help')")
    .option('-V, --version', 'print the version')
    .on('option:version', () => {
      process.stdout.write(`isola ${version()}\n`);
      process.exit(0);
    });

  const run = program.command('run')
    .description('run a WASI command, call one export (--invoke), or filter stdin through a buffer export (--buffer)')
    .argument('<file>', 'a .wasm module or an isola artifact')
    .argument('[args...]', 'arguments for the guest, or for the export with --invoke')
    .passThroughOptions()
    .option('--invoke <name>', 'call this export with ARGS (typed) and print its results, one per line')
    .option('--buffer <export>', 'buffer ABI: copy stdin to get_buffer_ptr(), call EXPORT(len), write the result to stdout')
    .option('--fuel <n>', 'instruction budget (deterministic)')
    .option('--max-memory <size>', 'memory cap: bytes, or with K/KiB, M/MiB, G/GiB')
    .option('--timeout <duration>', 'wall-clock limit that interrupts running code: 500ms, 2s, 1m')
    .option('-W <options>', 'wasmtime spellings: fuel=N,max-memory-size=BYTES,timeout=DUR', collect, [])
    .option('--backtrace', 'print the Wasm backtrace of a trap (also ISOLA_BACKTRACE=1)')
    .option('--dir <host[::guest]>', 'grant read-write access to a host directory (as GUEST in the guest)', collect, [])
    .option('--dir-ro <host[::guest]>', 'grant read-only access to a host directory', collect, [])
    .option('--env <name[=value]>', 'give the guest an environment variable (NAME alone copies isola\'s own)', collect, []);
  run.showHelpAfterError(usageHint(run)).action(action(run, async (file: string, args: string[], flags) => {
    const { run: runModule } = await import('./run.js');
    return runModule(file, args, flags);
  }));

  const inspect = program.command('inspect')
    .description('describe a module: imports, exports with signatures, memories, tables, custom sections, kind')
    .argument('<file>', 'a .wasm module, component or isola artifact')
    .option('--json', 'machine-readable output');
  inspect.showHelpAfterError(usageHint(inspect)).action(action(inspect, async (file: string, flags) => {
    const { inspectCommand } = await import('./inspect.js');
    return inspectCommand(file, flags);
  }));

  const compile = program.command('compile')
    .description('validate and instrument a module once; write an artifact that `isola run` loads as is')
    .argument('<file>', 'a .wasm module')
    .requiredOption('-o, --output <file>', 'where to write the artifact')
    .option('--fuel', 'insert fuel metering (needed for --fuel and --timeout at run time)')
    .option('--max-memory <size>', 'cap memory at SIZE bytes (K/KiB, M/MiB, G/GiB)');
  compile.showHelpAfterError(usageHint(compile)).action(action(compile, async (file: string, flags) => {
    const { compileCommand } = await import('./compile.js');
    return compileCommand(file, flags);
  }));

  return program;
}
