/** `isola` entry point (bin/isola.js imports this). Every failure ends here as one line and an exit status. */
import { IsolaError } from '../errors.js';
import { commandHelp, parseArgv, programHelp, UsageError, usageLine } from './argv.js';
import { COMMANDS, DESCRIPTION, dispatch } from './program.js';
import { EXIT_USAGE, reportError } from './report-error.js';
import { writeStdout } from './stdout.js';

function usageFailure(message: string, e: UsageError | null): number {
  const hint = e?.command ? `usage: ${usageLine(e.command)} (see 'isola ${e.command.name} --help')` : "usage: isola <command> [options] (see 'isola --help')";
  process.stderr.write(`error: ${message}\n${hint}\n`);
  return EXIT_USAGE;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgv(COMMANDS, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e.message, e);
    return reportError(e);
  }
  if (parsed.kind === 'version') {
    const { isolaVersion } = await import('../engine/version.js');
    writeStdout(`isola ${isolaVersion()}\n`);
    return 0;
  }
  if (parsed.kind === 'help') {
    writeStdout(parsed.command ? commandHelp(parsed.command) : programHelp(COMMANDS, DESCRIPTION));
    return 0;
  }
  try {
    return await dispatch(parsed.command, parsed.positionals, parsed.options, parsed.sequence);
  } catch (e) {
    if (e instanceof IsolaError && e.code === 'USAGE') return usageFailure(e.message, new UsageError(e.message, parsed.command));
    return reportError(e);
  }
}

// Anything escaping is a bug, reported as one line, never as a stack trace.
process.on('uncaughtException', (e) => process.exit(reportError(e)));

process.exitCode = await main(process.argv.slice(2));
