/**
 * Where the admin commands (deploy, functions, logs, rollback, rm) find the admin API and its token:
 * `--server URL`, else $ISOLA_SERVER, else the admin URL a local `isola serve` wrote in ./.isola/admin-url
 * (its --admin-listen address when it has one), else http://127.0.0.1:3000; `--token T`, else $ISOLA_TOKEN,
 * else the token a local `isola serve` stored in ./.isola/admin-token (when readable).
 */
import { readFileSync } from 'node:fs';
import { AdminClient } from './admin-client.js';

export interface ServerFlags { server?: string; token?: string }

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';
/** Files `isola serve` keeps in its data directory, read from ./.isola (the default one). */
export const ADMIN_URL_FILE = 'admin-url';
export const LOCAL_TOKEN_FILE = '.isola/admin-token';
const LOCAL_ADMIN_URL_FILE = `.isola/${ADMIN_URL_FILE}`;

function local(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function adminClientFromFlags(flags: ServerFlags): AdminClient {
  const server = flags.server ?? (process.env.ISOLA_SERVER || local(LOCAL_ADMIN_URL_FILE) || DEFAULT_SERVER);
  const token = flags.token ?? (process.env.ISOLA_TOKEN || local(LOCAL_TOKEN_FILE));
  return new AdminClient(server, token);
}
