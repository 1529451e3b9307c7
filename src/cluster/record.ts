/**
 * What a function record in the bucket must look like before a node uses any of it: anyone holding the
 * cluster's NATS credentials can write one, so a damaged, foreign or hostile value is refused whole (logged, the
 * node keeps what it had), never half applied and never a TypeError deep in a deploy. Fields added later in the
 * same format pass through; the orchestrator's own deploy checks the rest (name, route, module).
 */
import { z } from 'zod';
import { IsolaError } from '../errors.js';
import type { FunctionRecord } from './types.js';

/** The layout of the bucket this isola reads and writes; a bucket marked with another is refused. */
export const CLUSTER_FORMAT = 1;

const whole = (min: number) => z.number().int().min(min).max(Number.MAX_SAFE_INTEGER);
const text = z.string().max(4096);

const limits = z.object({
  fuel: whole(1).optional(),
  maxMemoryBytes: whole(1),
  maxTableElements: whole(0).optional(),
  timeoutMs: z.number().positive().max(2 ** 31),
  maxConcurrency: whole(1),
  maxQueue: whole(0),
  maxBodyBytes: whole(1),
  maxResponseBytes: whole(1),
  maxOutboundRequests: whole(0).optional(),
  maxOutboundResponseBytes: whole(1).optional(),
  maxKvCalls: whole(0).optional(),
}).passthrough();

const spec = z.object({
  name: text,
  route: text,
  limits,
  env: z.record(z.string(), z.string()),
  files: z.array(z.object({ hostPath: text, guestPath: text, readOnly: z.boolean() }).passthrough()).max(1000),
  isolation: z.enum(['inline', 'worker', 'process']),
  allowedOutboundHosts: z.array(text).max(1000).optional(),
  executor: z.enum(['cgi', 'wasi-http']).optional(),
  keyValueStores: z.array(text).max(1000).optional(),
  tenant: text.optional(),
  idleTimeoutMs: z.number().min(0).max(2 ** 31).optional(),
}).passthrough();

const version = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  moduleSha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: whole(0),
  createdAt: text,
  spec,
}).passthrough();

const record = z.object({
  format: z.number(),
  name: text,
  active: z.string().nullable(),
  history: z.array(z.string().max(64)).max(10_000),
  versions: z.array(version).max(10_000),
  updatedBy: text,
  updatedAt: text,
}).passthrough();

/** A record's bytes → the record, or CONFLICT saying in one line what is wrong with it. */
export function parseRecord(name: string, bytes: Uint8Array): FunctionRecord {
  const refuse = (why: string): never => { throw new IsolaError('CONFLICT', `the cluster's record of ${name} ${why}`); };
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    refuse('is not JSON');
  }
  const format = (v as { format?: unknown } | null)?.format;
  if (format !== CLUSTER_FORMAT) refuse(`is in format ${String(format).slice(0, 20)}; this isola reads format ${CLUSTER_FORMAT}`);
  const parsed = record.safeParse(v);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    refuse(`is not valid: ${issue.path.join('.') || 'the record'}: ${issue.message}`);
  }
  const r = parsed.data as unknown as FunctionRecord;
  if (r.name !== name) refuse(`names another function (${r.name.slice(0, 64)})`);
  if (r.versions.some((x) => x.spec.name !== name)) refuse('holds a version of another function');
  if (r.active !== null && !r.versions.some((x) => x.id === r.active)) refuse('names an active version it does not hold');
  return r;
}
