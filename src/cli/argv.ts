/**
 * A small declarative command-line parser, with wasmtime's convention for `run`: options come
 * before FILE, and everything after FILE (options included) belongs to the guest.
 *
 * Why not commander: it is ~125 kB of JavaScript plus node:child_process, a third of everything
 * `isola run` would load, and start-up time is a stated target. This covers what isola needs:
 * long/short options, `--opt value` and `--opt=value`, repeatable options, flags, positionals,
 * generated help. Every problem is a UsageError naming the command, for the usage hint.
 */

export interface OptionSpec {
  /** `--invoke`; the parsed value is stored under `key`. */
  long: string;
  short?: string;
  key: string;
  /** Placeholder for the value (`<name>`); absent for flags. */
  value?: string;
  repeatable?: boolean;
  required?: boolean;
  description: string;
}

export interface ArgumentSpec { name: string; required: boolean; variadic?: boolean; description: string }

export interface CommandSpec {
  name: string;
  summary: string;
  args: ArgumentSpec[];
  options: OptionSpec[];
  /** After the first positional, nothing is parsed as an option (wasmtime's `run FILE ARGS...`). */
  passThrough?: boolean;
}

export type OptionValues = Record<string, string | string[] | boolean | undefined>;
/** One option as it appeared, in command-line order (when the order of different options matters). */
export interface Occurrence { key: string; value: string | boolean }

export type Parsed =
  | { kind: 'command'; command: CommandSpec; positionals: string[]; options: OptionValues; sequence: Occurrence[] }
  | { kind: 'help'; command: CommandSpec | null }
  | { kind: 'version' };

export class UsageError extends Error {
  constructor(message: string, readonly command: CommandSpec | null) {
    super(message);
    this.name = 'UsageError';
  }
}

const HELP: OptionSpec = { long: '--help', short: '-h', key: 'help', description: 'display help for command' };

const flagsText = (o: OptionSpec): string => `${o.short ? `${o.short}, ` : ''}${o.long}${o.value ? ` ${o.value}` : ''}`;

function findOption(cmd: CommandSpec, name: string): OptionSpec | undefined {
  return cmd.options.find((o) => o.long === name || o.short === name) ?? (name === '--help' || name === '-h' ? HELP : undefined);
}

export function parseArgv(commands: CommandSpec[], argv: string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('missing command', null);
  if (first === '-h' || first === '--help') return { kind: 'help', command: null };
  if (first === '-V' || first === '--version') return { kind: 'version' };
  if (first === 'help') {
    const about = rest[0] === undefined ? null : commands.find((c) => c.name === rest[0]);
    if (about === undefined) throw new UsageError(`unknown command '${rest[0]}'`, null);
    return { kind: 'help', command: about };
  }
  const command = commands.find((c) => c.name === first);
  if (!command) {
    throw new UsageError(first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`, null);
  }
  return parseCommand(command, rest);
}

function parseCommand(cmd: CommandSpec, argv: string[]): Parsed {
  const options: OptionValues = {};
  const sequence: Occurrence[] = [];
  const positionals: string[] = [];
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      if (cmd.passThrough) optionsEnded = true;
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    // --name=value, -Wvalue, or the value in the next argument
    let name = arg;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) [name, inline] = [arg.slice(0, eq), arg.slice(eq + 1)];
    } else if (arg.length > 2) {
      [name, inline] = [arg.slice(0, 2), arg.slice(2)];
    }
    const spec = findOption(cmd, name);
    if (!spec) throw new UsageError(`unknown option '${arg}'`, cmd);
    if (spec === HELP) return { kind: 'help', command: cmd };
    let value: string | boolean = true;
    if (spec.value) {
      if (inline !== undefined) value = inline;
      else if (i + 1 < argv.length) value = argv[++i]!;
      else throw new UsageError(`option '${flagsText(spec)}' argument missing`, cmd);
    } else if (inline !== undefined) {
      throw new UsageError(`option '${spec.long}' does not take a value`, cmd);
    }
    sequence.push({ key: spec.key, value });
    if (spec.repeatable) (options[spec.key] as string[] | undefined ?? (options[spec.key] = [])).push(value as string);
    else options[spec.key] = value;
  }
  for (const o of cmd.options) {
    if (o.repeatable && options[o.key] === undefined) options[o.key] = [];
    if (o.required && options[o.key] === undefined) throw new UsageError(`required option '${flagsText(o)}' not specified`, cmd);
  }
  const required = cmd.args.filter((a) => a.required);
  if (positionals.length < required.length) throw new UsageError(`missing required argument '${required[positionals.length]!.name}'`, cmd);
  if (!cmd.args.some((a) => a.variadic) && positionals.length > cmd.args.length) {
    throw new UsageError(`too many arguments for '${cmd.name}': expected ${cmd.args.length}, got ${positionals.length}`, cmd);
  }
  return { kind: 'command', command: cmd, positionals, options, sequence };
}

const argText = (a: ArgumentSpec): string => (a.required ? `<${a.name}${a.variadic ? '...' : ''}>` : `[${a.name}${a.variadic ? '...' : ''}]`);

export function usageLine(cmd: CommandSpec): string {
  return `isola ${cmd.name} [options] ${cmd.args.map(argText).join(' ')}`;
}

/** Two aligned columns, the second wrapped at ~80 characters. */
function columns(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  const wrapAt = Math.max(30, 80 - width - 2);
  return rows.map(([a, b]) => {
    const lines: string[] = [];
    let line = '';
    for (const word of b.split(' ')) {
      if (line && line.length + word.length + 1 > wrapAt) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
    return `  ${a.padEnd(width)}${lines.join(`\n  ${' '.repeat(width)}`)}`;
  });
}

export function commandHelp(cmd: CommandSpec): string {
  const out = [`Usage: ${usageLine(cmd)}`, '', cmd.summary, ''];
  if (cmd.args.length) out.push('Arguments:', ...columns(cmd.args.map((a) => [a.name, a.description])), '');
  out.push('Options:', ...columns([...cmd.options, HELP].map((o) => [flagsText(o), o.description])));
  return `${out.join('\n')}\n`;
}

export function programHelp(commands: CommandSpec[], description: string): string {
  const out = ['Usage: isola [options] [command]', '', description, '', 'Options:',
    ...columns([['-V, --version', 'print the version'], ['-h, --help', 'display help for command']]), '', 'Commands:',
    ...columns([...commands.map((c): [string, string] => [`${c.name} [options] ${c.args.map(argText).join(' ')}`, c.summary]),
      ['help [command]', 'display help for command']])];
  return `${out.join('\n')}\n`;
}
