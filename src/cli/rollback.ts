/** `isola rollback NAME`: activates the version that was active before the current one. */
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

export async function rollbackCommand(name: string, flags: ServerFlags): Promise<number> {
  const r = await adminClientFromFlags(flags).rollback(name);
  writeStdout(`${r.function}: rolled back, active version ${r.active}\n`);
  return 0;
}
