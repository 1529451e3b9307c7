/**
 * `allowed-outbound-hosts`, in Spin's syntax: `scheme://host[:port]` where scheme is http, https or `*`; host a
 * DNS name, `*.suffix` (any name under it, not the suffix itself), `*` (any), an IPv4 address or a bracketed
 * IPv6 address; port a number or `*` (absent: the scheme's default, 80 or 443). No paths, no userinfo.
 *
 * And the addresses a guest may reach: a name that resolves to a loopback, private, link-local or otherwise
 * special address is refused unless that address is itself allowed (an entry naming it, or `localhost` for the
 * loopback ones), so DNS cannot turn an allowed public name into a door to the host's own network.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface AllowedHost {
  /** As written. */
  text: string;
  scheme: 'http' | 'https' | '*';
  /** Lower-case; `*.example.com` and `*` are patterns; IPv6 without brackets. */
  host: string;
  /** A port, any (`*`), or the default of the request's scheme (a `*://host` entry without a port). */
  port: number | '*' | 'default';
}

/** Parses one entry; throws an Error whose message says what is wrong with it. */
export function parseAllowedHost(text: string): AllowedHost {
  const m = /^([a-z*]+):\/\/([^/?#]*)$/i.exec(text.trim());
  if (m === null) throw new Error(`"${text}" is not scheme://host[:port] (no path)`);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== '*') throw new Error(`"${text}": the scheme must be http, https or *`);
  const authority = m[2]!;
  if (authority.includes('@')) throw new Error(`"${text}": no user or password in an allowed host`);
  const hp = splitHostPort(authority);
  if (hp === null) throw new Error(`"${text}": a host, then an optional :port (a number or *)`);
  const host = hp.host.toLowerCase();
  const hostOk = host === '*' || isIPv6(host) || canonicalIPv4(host) || (/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) && !/^\d+(\.\d+)*$/.test(host));
  if (!hostOk) throw new Error(`"${text}": "${hp.host}" is not a host name, *.name, * or an IP address`);
  let port: AllowedHost['port'];
  if (hp.port === '*') port = '*';
  else if (hp.port === undefined) port = scheme === 'https' ? 443 : scheme === 'http' ? 80 : 'default';
  else {
    port = Number(hp.port);
    if (!/^\d{1,5}$/.test(hp.port) || port < 1 || port > 65535) throw new Error(`"${text}": port ${hp.port} is not 1 to 65535 or *`);
  }
  return { text, scheme, host, port };
}

/** `host[:port]`, `[v6][:port]`; null when malformed. */
export function splitHostPort(authority: string): { host: string; port?: string } | null {
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(authority);
  if (v6 !== null) return isIPv6(v6[1]!) ? (v6[2] === undefined ? { host: v6[1]! } : { host: v6[1]!, port: v6[2] }) : null;
  const parts = authority.split(':');
  if (parts.length > 2 || parts[0] === '') return null;
  return parts.length === 2 ? { host: parts[0]!, port: parts[1]! } : { host: parts[0]! };
}

/** Four decimal parts 0-255 without leading zeros: the only IPv4 spelling accepted (no 2130706433, 0x7f.1, 127.1, 0177.0.0.1). */
export function canonicalIPv4(host: string): boolean {
  return isIPv4(host) && host.split('.').every((p) => p === '0' || !p.startsWith('0'));
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** The entry that allows scheme://host:port (host lower-case, IPv6 without brackets), or null. */
export function allowedBy(list: readonly AllowedHost[], scheme: 'http' | 'https', host: string, port: number): AllowedHost | null {
  const defaultPort = scheme === 'https' ? 443 : 80;
  for (const a of list) {
    if (a.scheme !== '*' && a.scheme !== scheme) continue;
    const wantPort = a.port === 'default' ? defaultPort : a.port;
    if (wantPort !== '*' && wantPort !== port) continue;
    if (hostMatches(a.host, host)) return a;
  }
  return null;
}

/** An IPv4-mapped IPv6 address (::ffff:1.2.3.4, ::ffff:102:304) as the IPv4 it carries; anything else as it is. */
export function unmapped(address: string): string {
  const a = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted !== null && isIPv6(a)) return dotted[1]!;
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex !== null && isIPv6(a)) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return a;
}

/** A host as it is written in a URL (IPv6 in brackets). */
export function urlHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** Why an address is not an ordinary public one (loopback, private, …), or null. */
export function specialAddress(address: string): string | null {
  const a = unmapped(address);
  if (isIPv4(a)) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    if (x === 127) return 'loopback';
    if (x === 0) return 'unspecified';
    if (x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168)) return 'private';
    if (x === 169 && y === 254) return 'link-local';
    if (x === 100 && y >= 64 && y <= 127) return 'shared (carrier-grade NAT)';
    if (x === 198 && (y === 18 || y === 19)) return 'benchmarking';
    if (x >= 224) return 'multicast or reserved';
    return null;
  }
  if (a === '::1') return 'loopback';
  if (a === '::') return 'unspecified';
  const first = parseInt(a.split(':')[0] || '0', 16);
  if ((first & 0xfe00) === 0xfc00) return 'private (unique local)';
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xff00) === 0xff00) return 'multicast';
  if (a.startsWith('64:ff9b:') || a.startsWith('::ffff:') || a.startsWith('2002:')) return 'a translated IPv4 address';
  return null;
}

/**
 * Whether a special address may be reached: an entry allows this very address (by its literal), or names
 * `localhost` and the address is a loopback one.
 */
export function addressAllowed(list: readonly AllowedHost[], scheme: 'http' | 'https', address: string, port: number): boolean {
  const a = unmapped(address);
  if (allowedBy(list.filter((e) => e.host !== '*' && !e.host.startsWith('*.')), scheme, a, port) !== null) return true;
  return specialAddress(a) === 'loopback' && allowedBy(list.filter((e) => e.host === 'localhost'), scheme, 'localhost', port) !== null;
}
