/** `isola activate NAME VERSION`: switches a function to one of its stored versions (e.g. after `deploy --no-activate`). */
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

export async function activateCommand(name: string, version: string, flags: ServerFlags): Promise<number> {
  const r = await adminClientFromFlags(flags).activate(name, version);
  writeStdout(`${r.function}: active version ${r.active}\n`);
  return 0;
}
