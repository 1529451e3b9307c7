/** `isola kv stores|ls|get|set|rm`: an operator's view of the server's key-value stores, over the admin API. */
import { IsolaError } from '../errors.js';
import { readInputFile } from './read-input.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

export async function kvStoresCommand(flags: ServerFlags & { json?: boolean }): Promise<number> {
  const { stores } = await adminClientFromFlags(flags).kvStores();
  if (flags.json) writeStdout(`${JSON.stringify(stores)}\n`);
  else writeStdout(stores.length === 0 ? 'no stores (none is configured or granted)\n' : stores.map((s) => `${s.name}\t${s.backend}${s.open ? '' : '\t(not open yet)'}\n`).join(''));
  return 0;
}

/** Every key with the prefix, one per line (all pages). */
export async function kvListCommand(store: string, prefix: string | undefined, flags: ServerFlags & { json?: boolean }): Promise<number> {
  const client = adminClientFromFlags(flags);
  let cursor: string | null = null;
  const all: string[] = [];
  do {
    const page = await client.kvList(store, prefix ?? '', cursor);
    if (flags.json) all.push(...page.keys);
    else if (page.keys.length > 0) writeStdout(page.keys.map((k) => `${k}\n`).join(''));
    cursor = page.cursor;
  } while (cursor !== null);
  if (flags.json) writeStdout(`${JSON.stringify(all)}\n`);
  return 0;
}

export async function kvGetCommand(store: string, key: string, flags: ServerFlags): Promise<number> {
  writeStdout(await adminClientFromFlags(flags).kvGet(store, key));
  return 0;
}

/** The value: the argument's text, or a file's bytes (`--file F`, `-` for stdin). */
export async function kvSetCommand(store: string, key: string, value: string | undefined, flags: ServerFlags & { file?: string }): Promise<number> {
  if ((value === undefined) === (flags.file === undefined)) throw new IsolaError('USAGE', 'give the value as an argument or with --file (not both)');
  const bytes = value !== undefined ? Buffer.from(value, 'utf8') : readInputFile(flags.file!);
  const r = await adminClientFromFlags(flags).kvSet(store, key, bytes);
  process.stderr.write(`set ${key} in ${store} (${r.bytes} bytes)\n`);
  return 0;
}

export async function kvRemoveCommand(store: string, key: string, flags: ServerFlags): Promise<number> {
  await adminClientFromFlags(flags).kvRemove(store, key);
  process.stderr.write(`removed ${key} from ${store}\n`);
  return 0;
}
