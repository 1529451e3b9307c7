/** `isola` entry point (bin/isola.js loads its bundle). Every failure ends here as one line and an exit status. */
import { CommanderError } from 'commander';
import { isolaVersion } from '../engine/version.js';
import { parseCommandLine, type Actions } from './program.js';
import { EXIT_USAGE, reportError, reportUsageError } from './report-error.js';
import { UsageError } from './usage-error.js';

/** Each command's code is loaded only when that command runs. */
const actions: Actions = {
  run: async (...a) => (await import('./run.js')).run(...a),
  inspect: async (...a) => (await import('./inspect.js')).inspectCommand(...a),
  compile: async (...a) => (await import('./compile.js')).compileCommand(...a),
};

async function main(argv: string[]): Promise<number> {
  try {
    return await parseCommandLine(argv, actions, isolaVersion);
  } catch (e) {
    if (e instanceof UsageError) return reportUsageError(e);
    // Help and version were printed (help to stderr when it stands in for an error).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    return reportError(e);
  }
}

// Anything escaping is a bug, reported as one line, never as a stack trace.
process.on('uncaughtException', (e) => process.exit(reportError(e)));

process.exitCode = await main(process.argv.slice(2));
