/** `isola rm NAME`: deletes a function (its route stops answering; its versions are dropped). */
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

export async function rmCommand(name: string, flags: ServerFlags): Promise<number> {
  const r = await adminClientFromFlags(flags).remove(name);
  writeStdout(`removed ${r.function}\n`);
  return 0;
}
