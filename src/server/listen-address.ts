/** `host:port`, `[v6]:port`, `:port` or `port` → host and port (default 127.0.0.1:3000). */
import { IsolaError } from '../errors.js';

export const DEFAULT_LISTEN = '127.0.0.1:3000';

export function parseListen(text = DEFAULT_LISTEN, what = 'listen address'): { host: string; port: number } {
  const t = text.trim();
  const m = /^\d+$/.test(t) ? ['', '', t] : /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(t) ?? /^([^:\s[\]]*):(\d+)$/.exec(t);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new IsolaError('USAGE', `bad ${what} ${JSON.stringify(text)} (expected host:port, e.g. ${DEFAULT_LISTEN})`);
  }
  return { host: m[1] || '127.0.0.1', port };
}

/** Whether a host (or an http://host:port URL) is only reachable from this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(hostOrUrl: string): boolean {
  const host = /^https?:\/\//.test(hostOrUrl) ? new URL(hostOrUrl).hostname.replace(/^\[|\]$/g, '') : hostOrUrl;
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}
