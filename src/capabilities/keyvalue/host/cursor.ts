/**
 * Listing cursors as guests hold them: the backend's own cursor, tagged with its store. A cursor brought to
 * another store is refused by name instead of being read as that store's (where it could mean anything).
 */
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

export function encodeCursor(store: string, backendCursor: string): string {
  return `${b64(store)}.${b64(backendCursor)}`;
}

/** The backend's cursor, or why the token is not one of this store's. */
export function decodeCursor(token: string, store: string): string | { problem: string } {
  const dot = token.indexOf('.');
  if (dot < 0 || !/^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token)) return { problem: 'a cursor isola did not make' };
  if (token.slice(0, dot) !== b64(store)) return { problem: `a cursor of another store than "${store}"` };
  return Buffer.from(token.slice(dot + 1), 'base64url').toString('utf8');
}
