/** `isola` entry point (bin/isola.js imports this). Every failure ends here as one line and an exit status. */
import { isolaVersion } from '../engine/version.js';
import { buildProgram, commander } from './program.js';
import { EXIT_USAGE, reportError } from './report-error.js';

async function main(argv: string[]): Promise<number> {
  const program = buildProgram(isolaVersion);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof commander.CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE; // already printed, with the usage hint
    return reportError(e);
  }
}

process.exitCode = await main(process.argv.slice(2));
