// NATS KV keys are subjects: dot-separated tokens of [-/_=a-zA-Z0-9], none empty. Our keys are any UTF-8
// without NUL, so they are mapped injectively, token by token (on '.'): a token that is a valid NATS token
// and does not start with '=' is stored as is; any other token (empty ones included) is stored as
// '=' + base64url(UTF-8) without padding, which has no '.' and starts with '=', so the two never meet. A key
// that is already a valid NATS key is mostly stored as is (readable with the `nats` CLI), and the dotted
// structure survives encoding, so a subject filter can narrow a listing by a prefix's leading tokens.

const RAW_TOKEN = /^[-/_=a-zA-Z0-9]+$/;

const encodeToken = (t: string): string =>
  RAW_TOKEN.test(t) && !t.startsWith('=') ? t : `=${Buffer.from(t, 'utf8').toString('base64url')}`;

function decodeToken(t: string): string | null {
  if (!t.startsWith('=')) return RAW_TOKEN.test(t) ? t : null;
  const decoded = Buffer.from(t.slice(1), 'base64url').toString('utf8');
  return encodeToken(decoded) === t ? decoded : null;
}

export function toNatsKey(key: string): string {
  return key.split('.').map(encodeToken).join('.');
}

/** The key that `natsKey` stores, or null for a NATS key this mapping never makes (written by someone else). */
export function fromNatsKey(natsKey: string): string | null {
  const tokens = natsKey.split('.').map(decodeToken);
  return tokens.includes(null) ? null : tokens.join('.');
}

/**
 * A subject filter matching every stored key that starts with `prefix` (and maybe others: filter after
 * decoding). Wildcards match whole tokens, so the filter pins the prefix's complete tokens, those before its
 * last '.': "user.42.na" → "user.42.>".
 */
export function listingFilter(prefix: string): string {
  const complete = prefix.split('.').slice(0, -1);
  return complete.length === 0 ? '>' : `${complete.map(encodeToken).join('.')}.>`;
}
