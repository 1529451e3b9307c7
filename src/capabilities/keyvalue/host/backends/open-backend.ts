// The one place that turns a store's configuration into a backend.
import { EmbeddedBackend } from './embedded.js';
import { NatsBackend } from './nats.js';
import { RedisBackend } from './redis.js';
import { redactUrl } from './redact.js';
import { KvBackendError, type BackendOptions, type KvBackend, type KvStoreConfig } from './types.js';

/** Opens the store `config` describes (connecting, creating the folder or bucket if needed). */
export async function openBackend(config: KvStoreConfig, options?: BackendOptions): Promise<KvBackend> {
  switch (config.type) {
    case 'embedded': return EmbeddedBackend.open(config.path, config.quotaBytes, options);
    case 'redis': return RedisBackend.open(config.url, options);
    case 'nats': return NatsBackend.open(config.url, config.bucket, config.quotaBytes, options);
    default:
      throw new KvBackendError('other', `unknown key-value store type ${JSON.stringify((config as { type: unknown }).type)} (expected embedded, redis or nats)`);
  }
}

/** Where a store lives, for messages and logs (URLs without their credentials). */
export function describeBackend(c: KvStoreConfig): string {
  switch (c.type) {
    case 'embedded': return `embedded store at ${c.path}`;
    case 'redis': return `redis at ${redactUrl(c.url)}`;
    case 'nats': return `nats at ${redactUrl(c.url)}, bucket ${c.bucket}`;
    default: return `unknown key-value store type ${JSON.stringify((c as { type: unknown }).type)}`;
  }
}
