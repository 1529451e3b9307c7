/**
 * The cluster settings: `[cluster]` of isola.toml, then `isola serve --cluster URL` over it. One-line errors
 * naming the key. Credentials: user + password, a token, or an nkey seed file (one of them); TLS: a CA file,
 * and a client certificate + key for servers that verify clients.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { IsolaError } from '../errors.js';
import { parseDuration } from '../engine/units.js';
import { CLUSTER_NAME, NODE_ID } from './subjects.js';
import type { ClusterConfig } from './types.js';


const table = z.object({
  url: z.string().min(1),
  name: z.string().regex(CLUSTER_NAME, 'expected letters, digits, "-" and "_" (at most 64)').optional(),
  node: z.string().regex(NODE_ID, 'expected a node id: lower-case letters, digits and "-", at most 63').optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  token: z.string().min(1).optional(),
  'nkey-seed-file': z.string().min(1).optional(),
  'tls-ca-file': z.string().min(1).optional(),
  'tls-cert-file': z.string().min(1).optional(),
  'tls-key-file': z.string().min(1).optional(),
  'connect-timeout': z.string().min(1).optional(),
}).strict();

/** Checks the settings that do not depend on where they came from (also used for the flags). */
export function checkClusterConfig(c: ClusterConfig, where: string): ClusterConfig {
  const fail = (what: string): never => { throw new IsolaError('MANIFEST', `${where}: ${what}`); };
  for (const url of c.url.split(',')) {
    if (!/^(nats|tls):\/\/[^\s/]+\/?$/i.test(url.trim())) fail(`url: expected nats://host:port or tls://host:port, got ${JSON.stringify(url.trim()).slice(0, 80)}`);
  }
  if (!CLUSTER_NAME.test(c.name)) fail(`name: expected letters, digits, "-" and "_" (at most 64), got ${JSON.stringify(c.name).slice(0, 80)}`);
  if (c.nodeId !== undefined && !NODE_ID.test(c.nodeId)) fail(`node: expected lower-case letters, digits and "-" (at most 63), got ${JSON.stringify(c.nodeId).slice(0, 80)}`);
  const ways = [c.user !== undefined, c.token !== undefined, c.nkeySeedFile !== undefined].filter(Boolean).length;
  if (ways > 1) fail('give one of user + password, token or nkey-seed-file');
  if (c.password !== undefined && c.user === undefined) fail('password without user');
  if ((c.tls?.certFile === undefined) !== (c.tls?.keyFile === undefined)) fail('tls-cert-file and tls-key-file go together');
  return c;
}

/** `[cluster]` of an isola.toml, or undefined when it has none. */
export function loadClusterConfig(manifestPath: string): ClusterConfig | undefined {
  const file = basename(manifestPath);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // the manifest's own reader reports a file it cannot read or parse
  }
  if (doc.cluster === undefined) return undefined;
  const parsed = table.safeParse(doc.cluster);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.');
    throw new IsolaError('MANIFEST', `${file}: cluster${key ? `.${key}` : ''}: ${issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : issue.message}`);
  }
  const t = parsed.data;
  const base = dirname(resolve(manifestPath));
  const path = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(base, p));
  const c: ClusterConfig = { url: t.url, name: t.name ?? 'default' };
  if (t.node !== undefined) c.nodeId = t.node;
  if (t.user !== undefined) c.user = t.user;
  if (t.password !== undefined) c.password = t.password;
  if (t.token !== undefined) c.token = t.token;
  if (t['nkey-seed-file'] !== undefined) c.nkeySeedFile = path(t['nkey-seed-file']);
  const tls = { caFile: path(t['tls-ca-file']), certFile: path(t['tls-cert-file']), keyFile: path(t['tls-key-file']) };
  if (tls.caFile || tls.certFile || tls.keyFile) c.tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
  if (t['connect-timeout'] !== undefined) {
    try {
      c.connectTimeoutMs = parseDuration(t['connect-timeout'], 'connect-timeout');
    } catch (e) {
      throw new IsolaError('MANIFEST', `${file}: cluster.connect-timeout: ${(e as Error).message}`);
    }
  }
  return checkClusterConfig(c, `${file}: cluster`);
}

/**
 * The cluster a server joins: the flags' settings (`--cluster`, `--cluster-name`, `--node-id`) over isola.toml's
 * `[cluster]`, checked. Undefined: neither says, the server stands alone.
 */
export function clusterSettings(flags: Partial<ClusterConfig> | undefined, manifestPath?: string): ClusterConfig | undefined {
  const file = manifestPath === undefined ? undefined : loadClusterConfig(manifestPath);
  if (flags === undefined && file === undefined) return undefined;
  const url = flags?.url ?? file?.url;
  if (url === undefined) throw new IsolaError('USAGE', 'a cluster needs a NATS URL (--cluster nats://host:port)');
  const merged: ClusterConfig = { ...file, ...Object.fromEntries(Object.entries(flags ?? {}).filter(([, v]) => v !== undefined)), url, name: flags?.name ?? file?.name ?? 'default' };
  return checkClusterConfig(merged, flags?.url !== undefined ? '--cluster' : 'cluster');
}
