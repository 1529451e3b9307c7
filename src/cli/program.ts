/**
 * The command line's shape, on commander: isola's commands, their options and help text, and the
 * wasmtime convention for `run` (options before FILE; everything after FILE goes to the guest).
 * What each command does is passed in as `Actions`, so main can load it on demand and tests can
 * record what a command line parses to. Values are checked by the actions, not here.
 */
import { Command, CommanderError } from 'commander';
import { IsolaError } from '../errors.js';
import type { CompileFlags } from './compile.js';
import type { RunFlags } from './run.js';
import { serverCommands } from './server-commands.js';
import { doctorCommand } from './doctor.js';
import { UsageError } from './usage-error.js';
import { writeStdout } from './stdout.js';

export const DESCRIPTION = 'Run untrusted WebAssembly safely and fast';

/** Each resolves to the exit status. */
export interface Actions {
  run(file: string, args: string[], flags: RunFlags): Promise<number>;
  inspect(file: string, flags: { json?: boolean }): Promise<number>;
  compile(file: string, flags: CompileFlags): Promise<number>;
}

/** Wraps an action so commander can call it and its exit status is recorded (for command modules). */
export type Recorder = <A extends unknown[]>(action: (...a: A) => Promise<number>) => (...a: A) => Promise<void>;

/** An action as commander calls it: the status is recorded on the side. */
type Handler<K extends keyof Actions> = (...a: Parameters<Actions[K]>) => Promise<void>;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** What commander collects for `run` (besides --dir and --dir-ro, gathered in order below). */
interface RunOptions {
  invoke?: string; buffer?: string; fuel?: string; maxMemory?: string; maxTableElements?: string; timeout?: string;
  W?: string[]; backtrace?: boolean; env?: string[]; isolation?: string; kv?: string[];
}

function runCommand(program: Command, run: Handler<'run'>): void {
  // --dir and --dir-ro share one list, so preopens keep their command-line order across both.
  const preopens: NonNullable<RunFlags['preopens']> = [];
  const preopen = (readOnly: boolean) => (spec: string) => {
    preopens.push({ spec, readOnly });
    return preopens;
  };
  program.command('run')
    .description('run a WASI command, call one export (--invoke), or filter stdin through a buffer export (--buffer)')
    .argument('<file>', 'a .wasm module or an isola artifact')
    .argument('[args...]', 'arguments for the guest, or for the export with --invoke')
    .passThroughOptions()
    .option('--invoke <name>', 'call this export with ARGS (typed) and print its results, one per line')
    .option('--buffer <export>', 'buffer ABI: copy stdin to get_buffer_ptr(), call EXPORT(len), write the result to stdout')
    .option('--fuel <n>', 'instruction budget (deterministic)')
    .option('--max-memory <size>', 'memory cap: bytes, or with K/KiB, M/MiB, G/GiB')
    .option('--max-table-elements <n>', 'elements per table (default 100000)')
    .option('--timeout <duration>', 'wall-clock limit that interrupts running code: 500ms, 2s, 1m')
    .option('-W <options>', 'wasmtime spellings: fuel=N,max-memory-size=BYTES,max-table-elements=N,timeout=DUR (repeatable)', collect)
    .option('--backtrace', 'print the Wasm backtrace of a trap (also ISOLA_BACKTRACE=1)')
    .option('--dir <host[::guest]>', 'grant read-write access to a host directory (as GUEST in the guest)', preopen(false))
    .option('--dir-ro <host[::guest]>', 'grant read-only access to a host directory', preopen(true))
    .option('--env <name[=value]>', "give the guest an environment variable (NAME alone copies isola's own)", collect)
    .option('--isolation <wall>', 'run the guest in a cell: inline, worker or process (jailed); default: in isola itself')
    .option('--kv <name[=path]>', 'grant a key-value store: embedded, in PATH (default .isola/kv/NAME); runs the guest in a worker cell (repeatable)', collect)
    .action((file: string, args: string[], o: RunOptions) => run(file, args, {
      ...(o.isolation !== undefined && { isolation: o.isolation }),
      invoke: o.invoke, buffer: o.buffer, fuel: o.fuel, maxMemory: o.maxMemory, maxTableElements: o.maxTableElements, timeout: o.timeout, W: o.W,
      backtrace: o.backtrace === true, preopens, env: o.env, ...(o.kv !== undefined && { kv: o.kv }),
    }));
}

function inspectCommand(program: Command, inspect: Handler<'inspect'>): void {
  program.command('inspect')
    .description('describe a module: imports, exports with signatures, memories, tables, custom sections, kind')
    .argument('<file>', 'a .wasm module, component or isola artifact')
    .option('--json', 'machine-readable output')
    .action((file: string, o: { json?: boolean }) => inspect(file, { json: o.json === true }));
}

function compileCommand(program: Command, compile: Handler<'compile'>): void {
  program.command('compile')
    .description('validate and instrument a module once; write an artifact that `isola run` loads as is')
    .argument('<file>', 'a .wasm module')
    .requiredOption('-o, --output <file>', 'where to write the artifact')
    .option('--fuel', 'insert fuel metering (needed for --fuel and --timeout at run time)')
    .option('--max-memory <size>', 'cap memory at SIZE bytes (K/KiB, M/MiB, G/GiB)')
    .option('--max-table-elements <n>', 'cap each table at N elements (default 100000)')
    .action((file: string, o: { output: string; fuel?: boolean; maxMemory?: string; maxTableElements?: string }) => compile(file, {
      output: o.output, fuel: o.fuel === true, maxMemory: o.maxMemory, maxTableElements: o.maxTableElements,
    }));
}

/**
 * commander reports a problem by calling the exit callback; here it becomes a UsageError naming
 * the command, which main prints as one line and a hint. Help and version (exit 0) pass through.
 */
function usageErrorsOf(command: Command): void {
  command.exitOverride((err: CommanderError) => {
    if (err.exitCode === 0 || err.code === 'commander.help') throw err;
    throw new UsageError(err.message.replace(/^error: /, ''), command);
  });
}

/** Parses argv (without `node isola`) and runs the command; resolves to its exit status. */
export async function parseCommandLine(argv: string[], actions: Actions, version: () => string): Promise<number> {
  if (argv.length === 0) throw new UsageError('missing command', null);
  let status = 0;
  const record = <A extends unknown[]>(action: (...a: A) => Promise<number>) => async (...a: A): Promise<void> => {
    status = await action(...a);
  };
  const program = new Command('isola')
    .description(DESCRIPTION)
    .version(`isola ${version()}`, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showSuggestionAfterError(false)
    .configureOutput({ writeOut: writeStdout, outputError: () => undefined });
  runCommand(program, record(actions.run));
  inspectCommand(program, record(actions.inspect));
  compileCommand(program, record(actions.compile));
  serverCommands(program, record);
  doctorCommand(program, record);
  // Every level: subcommands (kv ls, cluster status) too, or their usage errors would exit without a word.
  const withSubcommands = (c: Command): Command[] => [c, ...c.commands.flatMap(withSubcommands)];
  for (const command of withSubcommands(program)) usageErrorsOf(command);
  let active: Command | null = null;
  program.hook('preAction', (_program, command) => {
    active = command;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    // An IsolaError of code USAGE from an action (a bad size, say) is a usage error of that command.
    throw e instanceof IsolaError && e.code === 'USAGE' ? new UsageError(e.message, active) : e;
  }
  return status;
}
