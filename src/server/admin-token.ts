/** The admin bearer token: generated once (32 random bytes), kept in <dataDir>/admin-token with mode 0600. */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmodSync, fchmodSync, mkdirSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../errors.js';

export const TOKEN_FILE = 'admin-token';

export function loadOrCreateAdminToken(dataDir: string, override?: string): { token: string; generated: boolean } {
  if (override !== undefined) {
    if (override.length < 8 || /\s/.test(override)) throw new IsolaError('USAGE', 'admin token must be at least 8 characters without spaces');
    return { token: override, generated: false };
  }
  const file = join(dataDir, TOKEN_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 8) {
      chmodSync(file, 0o600);
      return { token, generated: false };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IsolaError('IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  const token = randomBytes(32).toString('base64url');
  let fd: number;
  try {
    fd = openSync(file, 'w', 0o600);
  } catch (e) {
    throw new IsolaError('IO', `cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    fchmodSync(fd, 0o600); // before the secret is written, in case the file already existed with a looser mode
    writeSync(fd, token + '\n');
  } finally {
    closeSync(fd);
  }
  return { token, generated: true };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time check of an `authorization` header against the token (hashing first hides the length). */
export function checkBearer(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m) return false;
  return timingSafeEqual(digest(m[1]!), digest(token));
}
