/**
 * `isola logs NAME [--follow] [--since 10m] [--tail N] [--json]`: a function's log, one line per record
 * as `kubectl logs` or `spin` print them: time, request id, version, text (isola's own lines, such as why a
 * request failed, marked `[isola]`). Control characters a guest wrote are shown escaped, never sent to
 * the terminal as they are. `--json` prints the records as JSON lines. In a cluster each line starts with
 * the node it was written on.
 */
import type { LogRecord } from '../orchestrator/types.js';
import { parseSince, parseTail } from '../server/log-query.js';
import { adminClientFromFlags, type ServerFlags } from './server-flags.js';
import { writeStdout } from './stdout.js';

export interface LogsFlags extends ServerFlags {
  follow?: boolean;
  since?: string;
  tail?: string;
  json?: boolean;
}

/** C0 controls but tab, DEL and C1 controls: an escape sequence from a guest must not reach a terminal. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;
export const escaped = (text: string): string => text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** A record from a cluster carries the node it came from: the line then starts with it. */
export function formatLogRecord(r: LogRecord & { node?: unknown }): string {
  const mark = r.stream === 'stderr' ? '' : `[${r.stream}] `;
  const node = typeof r.node === 'string' ? `${escaped(r.node)} ` : '';
  return `${node}${r.time} ${r.requestId || '-'} ${r.version || '-'} ${mark}${escaped(r.text)}\n`;
}

export async function logsCommand(name: string, flags: LogsFlags): Promise<number> {
  if (flags.since !== undefined) parseSince(flags.since); // a bad value is a usage error here, before connecting
  const tail = flags.tail === undefined ? undefined : parseTail(flags.tail);
  const client = adminClientFromFlags(flags);
  const print = flags.json ? (r: LogRecord) => writeStdout(`${JSON.stringify(r)}\n`) : (r: LogRecord) => writeStdout(formatLogRecord(r));
  await client.logs(name, { since: flags.since?.trim(), tail, follow: flags.follow === true }, print);
  return 0;
}
