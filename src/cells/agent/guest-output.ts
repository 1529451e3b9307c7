/**
 * Where one invocation's WASI stdout and stderr go. The core's caller decides, per invocation: captured
 * into the result (the default), handed to the caller's callbacks as written (an inline cell), or sent to
 * the host as data frames while the guest runs (a worker or process cell's agent).
 */
import { OutputCapture, type OutputSink } from '../../capabilities/wasi-p1/index.js';
import type { OutputCaps } from '../output-caps.js';
import type { InvokeResult } from '../types.js';

export interface GuestOutput {
  readonly stdout: OutputSink & { readonly truncated: boolean };
  readonly stderr: OutputSink;
  /** Called about every millisecond of guest work (Limits.tick). */
  readonly tick?: () => void;
  /** The guest ended well: put in its result what belongs there (captured bytes, outputTruncated). */
  done(res: InvokeResult): void;
}

/** Makes an invocation's GuestOutput from its caps. */
export type GuestOutputFactory = (caps: OutputCaps) => GuestOutput;

/** Both streams captured, capped, into the result. */
export const capturedOutput: GuestOutputFactory = (caps) => {
  const stdout = new OutputCapture(caps.stdout);
  const stderr = new OutputCapture(caps.stderr);
  return {
    stdout, stderr,
    done(res) {
      res.output = stdout.bytes;
      if (stdout.truncated) res.outputTruncated = true;
      res.stderr = stderr.bytes;
    },
  };
};
