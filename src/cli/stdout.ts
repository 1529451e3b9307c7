/**
 * Writing results to stdout. The stream is created on first use only: touching process.stdout
 * costs start-up time, and a WASI command writes to fd 1 directly and never needs it.
 */
import { reportError } from './report-error.js';

let guarded = false;

export function writeStdout(data: string | Uint8Array): void {
  if (!guarded) {
    guarded = true;
    // A reader that goes away (`isola … | head -1`) is not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      process.exit(e.code === 'EPIPE' ? (typeof process.exitCode === 'number' ? process.exitCode : 0) : reportError(e));
    });
  }
  process.stdout.write(data);
}
