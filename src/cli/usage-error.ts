/**
 * A usage error (unknown option, missing or bad value, …) and the hint line that follows it:
 * which command it belongs to decides the hint, `usage: isola run [options] <file> [args...]`.
 */
import type { Command } from 'commander';

export class UsageError extends Error {
  /** `command` is null for the top level (`isola` itself). */
  constructor(message: string, readonly command: Command | null) {
    super(message);
    this.name = 'UsageError';
  }
}

export function usageHint(command: Command | null): string {
  if (!command?.parent) return "usage: isola <command> [options] (see 'isola --help')";
  // A subcommand's full name (`kv set`): its parents' names below the program's.
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  const name = names.join(' ');
  return `usage: isola ${name} ${command.usage()} (see 'isola ${name} --help')`;
}
