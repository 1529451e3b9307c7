/**
 * Where the admin commands (deploy, functions, rollback, rm) find the server and its token:
 * `--server URL` / ISOLA_SERVER (default http://127.0.0.1:3000), `--token T` / ISOLA_TOKEN, else the
 * token a local `isola serve` stored in ./.isola/admin-token (when readable).
 */
import { readFileSync } from 'node:fs';
import { AdminClient } from './admin-client.js';

export interface ServerFlags { server?: string; token?: string }

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';
export const LOCAL_TOKEN_FILE = '.isola/admin-token';

function localToken(): string | undefined {
  try {
    return readFileSync(LOCAL_TOKEN_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function adminClientFromFlags(flags: ServerFlags): AdminClient {
  const server = flags.server ?? (process.env.ISOLA_SERVER || DEFAULT_SERVER);
  const token = flags.token ?? (process.env.ISOLA_TOKEN || localToken());
  return new AdminClient(server, token);
}
