import { join } from 'node:path';
import { nodeOs } from './lazy-builtins.js';

/** Where the artifact signing key lives for a given cache directory (`null`: no cache, the key stays in the default place). */
export function keyDirFor(cacheDir: string | null | undefined): string {
  return cacheDir ?? defaultCacheDir();
}

/** `$ISOLA_CACHE_DIR`, else `$XDG_CACHE_HOME/isola`, else `~/.cache/isola`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ISOLA_CACHE_DIR) return env.ISOLA_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'isola');
  return join(env.HOME || nodeOs().homedir(), '.cache', 'isola');
}
